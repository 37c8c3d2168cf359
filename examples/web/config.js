window.STSVEND = {}; // deployment settings for the pages; see index.html and presign.html
