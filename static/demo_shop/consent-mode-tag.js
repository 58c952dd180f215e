/* Stands for a Google tag: shows the Consent Mode state it finds in dataLayer, now and on updates. */
(function () {
  var out = document.getElementById('consent-mode-status');
  function latest() {
    var state = {};
    (window.dataLayer || []).forEach(function (entry) {
      if (entry && entry[0] === 'consent') Object.assign(state, entry[2]);
    });
    return state;
  }
  window.demoTagSawAtStart = JSON.parse(JSON.stringify(window.dataLayer || []));
  function show() { if (out) out.textContent = JSON.stringify(latest()); }
  show();
  var push = window.dataLayer.push;
  window.dataLayer.push = function () { var r = push.apply(this, arguments); show(); return r; };
})();
