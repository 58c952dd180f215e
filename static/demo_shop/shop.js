/* The shop's own code: a button that reopens the cookie settings through window.cookiegate. */
document.getElementById('open-settings').addEventListener('click', function () {
  if (window.cookiegate) window.cookiegate.open();
});
