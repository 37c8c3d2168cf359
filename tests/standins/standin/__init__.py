"""The local stand-ins for Alibaba Cloud that stsvend's tests, the end-to-end test
(tests/e2e/record_upload.py) and the playground (scripts/playground.py) run: a stand-in OSS
(`standin.oss`) and a stand-in STS (`standin.sts`), NOT Alibaba Cloud, each checking every
signature with the official SDKs. Their own tests are the test_*.py files beside this package
(tests/standins/); importers put tests/standins on sys.path and `from standin import oss, sts`.
This package holds no tests, so unittest discovery collects none from it.
"""
