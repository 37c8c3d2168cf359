"""Checks that template.yaml agrees with the code and with the configuration page.

- every function crate (functions/*/Cargo.toml [[bin]]) has an AWS::Serverless::Function
  whose Metadata says BuildMethod rust-cargolambda and BuildProperties.Binary the same name
  (record-upload twice: its events, and the daily quota reconcile), and no function names a
  binary that does not exist;
- the runtime is provided.al2023 and the handler bootstrap (cargo lambda's output);
- every environment variable the template sets is one the configuration page's tables name
  (docs/src/configuration.md: the documented interface; the repository alone, nothing outside
  it, is read).

cfn-lint does not check any of these (a misspelt Binary or BuildMethod passes it).
usage: .venv-tools/bin/python scripts/check_template.py   (needs cfn-lint for its YAML loader)
"""

import pathlib
import re
import sys
import tomllib

from cfnlint.decode import decode_str

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGURATION = ROOT / "docs" / "src" / "configuration.md"


def main() -> int:
    template, problems = decode_str((ROOT / "template.yaml").read_text())
    if problems:
        print(f"FAIL template.yaml does not load: {problems}")
        return 1
    binaries = {
        b["name"]
        for cargo in ROOT.glob("functions/*/Cargo.toml")
        for b in tomllib.loads(cargo.read_text()).get("bin", [])
    }
    page = CONFIGURATION.read_text()
    design_vars = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", page, re.M)) | set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`", "\n".join(l.split("|")[1] for l in page.splitlines() if l.startswith("| `")))
    )
    globals_fn = template.get("Globals", {}).get("Function", {})
    checks = []

    def check(ok, what):
        checks.append((ok, what))

    functions = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    named = []
    for name, resource in functions.items():
        meta = resource.get("Metadata", {})
        binary = meta.get("BuildProperties", {}).get("Binary")
        named.append(binary)
        check(meta.get("BuildMethod") == "rust-cargolambda", f"{name}: BuildMethod is rust-cargolambda")
        check(binary in binaries, f"{name}: Binary {binary!r} is a [[bin]] of functions/*")
        props = resource["Properties"]
        check(props.get("Runtime", globals_fn.get("Runtime")) == "provided.al2023", f"{name}: runtime provided.al2023")
        check(props.get("Handler", globals_fn.get("Handler")) == "bootstrap", f"{name}: handler bootstrap")
        variables = dict(globals_fn.get("Environment", {}).get("Variables", {}))
        variables.update(props.get("Environment", {}).get("Variables", {}))
        for var in variables:
            check(var in design_vars, f"{name}: environment variable {var} is in the configuration page's tables")
    check(sorted(set(named)) == sorted(binaries), f"a function per binary: {sorted(named)} vs {sorted(binaries)}")
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print(f"FAIL {what}")
    print(f"template: {len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
