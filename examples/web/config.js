window.STSVEND = {}; // deployment settings for the pages: see the top of app.js, and index.html
