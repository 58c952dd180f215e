/* cookiegate banner for a shop's own pages. Vanilla JavaScript, no dependencies.
 *
 * The server serves this file minified, with the site's configuration (texts in one language,
 * categories, cookie list, notice version, endpoints) in place of __COOKIEGATE_CONFIG__.
 * Everything renders in a shadow root, as a fixed overlay: no style clash, no layout shift.
 * Marked elements stay inert until their category is granted:
 *   <script type="text/plain" data-category="analytics" src="..."></script>
 *   <iframe data-category="marketing" data-src="..."></iframe>
 */
(function (w, d, C) {
  'use strict';
  var perf = w.performance;
  var mark = function (name) { if (perf && perf.mark) perf.mark('cookiegate:' + name); };
  mark('start');

  // The shop page's <html lang> wins when the site speaks it: load that language instead.
  var pageLang = (d.documentElement.lang || '').slice(0, 2).toLowerCase();
  if (!C.fixed && pageLang && pageLang !== C.lang && C.langs.indexOf(pageLang) >= 0) {
    var again = d.createElement('script');
    again.src = C.script + '?lang=' + pageLang;
    again.async = true;
    d.head.appendChild(again);
    return;
  }

  var T = C.t;
  var QUEUE = 'cookiegate:' + C.site;
  var optional = C.cats.filter(function (c) { return !c.exempt; }).map(function (c) { return c.key; });
  var gpc = !!navigator.globalPrivacyControl;
  var listeners = [];
  var state = readCookie();
  var current = state && state.v === C.version ? state : null;
  var root, banner, overlay, dialog, opener, sending, retryDelay = 2000;

  // Google Consent Mode v2: everything but necessary storage denied until a choice is known.
  w.dataLayer = w.dataLayer || [];
  function gtag() { w.dataLayer.push(arguments); }
  var defaults = consentMode({});
  defaults.wait_for_update = 500;
  gtag('consent', 'default', defaults);

  function exempt(key) {
    return C.cats.some(function (c) { return c.key === key && c.exempt; });
  }

  function granted(key) {
    return exempt(key) || !!(current && current.c[key]);
  }

  // REFERENCE mapping: analytics -> analytics_storage; tracking -> ad_storage, ad_user_data;
  // marketing -> ad_personalization, personalization_storage; necessary -> functionality, security.
  function consentMode(choices) {
    var g = function (key) { return choices[key] || exempt(key) ? 'granted' : 'denied'; };
    return {
      ad_storage: g('tracking'), ad_user_data: g('tracking'), ad_personalization: g('marketing'),
      analytics_storage: g('analytics'), functionality_storage: 'granted',
      personalization_storage: g('marketing'), security_storage: 'granted'
    };
  }

  // --- the first-party cookie on the shop's origin -------------------------------------------
  function readCookie() {
    var found = d.cookie.split('; ').filter(function (p) { return p.indexOf(C.cookie + '=') === 0; })[0];
    try { return found ? JSON.parse(decodeURIComponent(found.slice(C.cookie.length + 1))) : null; } catch (e) { return null; }
  }

  function writeCookie(value) {
    d.cookie = C.cookie + '=' + encodeURIComponent(JSON.stringify(value)) + '; Max-Age=' + C.days * 86400 +
      '; Path=/; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  }

  function expireCookies(category) {
    var names = d.cookie.split('; ').map(function (p) { return p.split('=')[0]; });
    var host = location.hostname.split('.');
    C.cookies.forEach(function (k) {
      if (k.cat !== category) return;
      var prefix = k.name.slice(-1) === '*' ? k.name.slice(0, -1) : null;
      names.forEach(function (name) {
        if (name !== k.name && !(prefix !== null && name.indexOf(prefix) === 0)) return;
        for (var i = 0; i < host.length; i++) {
          d.cookie = name + '=; Max-Age=0; Path=/; Domain=' + host.slice(i).join('.');
        }
        d.cookie = name + '=; Max-Age=0; Path=/';
      });
    });
  }

  // --- blocking and running marked elements ---------------------------------------------------
  function activate(scope) {
    if (!scope.querySelectorAll) return;
    scope.querySelectorAll('script[type="text/plain"][data-category],iframe[data-category][data-src]').forEach(function (el) {
      if (!granted(el.getAttribute('data-category'))) return;
      if (el.tagName === 'IFRAME') {
        el.src = el.getAttribute('data-src');
        el.removeAttribute('data-src');
        return;
      }
      var run = d.createElement('script');
      for (var i = 0; i < el.attributes.length; i++) {
        var a = el.attributes[i];
        if (a.name !== 'type') run.setAttribute(a.name, a.value);
      }
      run.type = el.getAttribute('data-type') || 'text/javascript';
      run.async = false;
      run.text = el.text;
      el.parentNode.replaceChild(run, el);
    });
  }

  new MutationObserver(function (records) {
    records.forEach(function (r) { r.addedNodes.forEach(function (n) { if (n.nodeType === 1) activate(n.parentNode || n); }); });
  }).observe(d.documentElement, { childList: true, subtree: true });

  // --- sending decisions: kept in the browser until cookiegate has them -----------------------
  function queue(value) {
    try {
      if (value === undefined) return JSON.parse(localStorage.getItem(QUEUE)) || [];
      localStorage.setItem(QUEUE, JSON.stringify(value));
    } catch (e) { return []; }
  }

  function flush() {
    var pending = queue();
    if (!pending.length || sending) return;
    sending = true;
    fetch(C.post, { method: 'POST', body: JSON.stringify(pending[0]), mode: 'cors', credentials: 'omit',
      keepalive: true, headers: { 'Content-Type': 'text/plain' } })
      .then(function (r) {
        // 2xx: stored. Other 4xx but 408/429: it will never be accepted; keep no dead letters.
        if (!r.ok && (r.status < 400 || r.status > 499 || r.status === 408 || r.status === 429)) throw r;
        queue(queue().filter(function (item) { return item.id !== pending[0].id; }));
        sending = false;
        retryDelay = 2000;
        flush();
      })
      .catch(function () {
        sending = false;
        setTimeout(flush, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      });
  }

  function uuid() {
    return ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, function (c) {
      return (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16);
    });
  }

  // --- deciding --------------------------------------------------------------------------------
  function decide(action, layer, picked) {
    // The last choice, even one made under an older notice: its cookies may still be there.
    var before = state ? state.c : {};
    var focused = root.activeElement;
    var choices = {};
    optional.forEach(function (key) {
      choices[key] = action === 'accept_all' || (action === 'save_selection' && !!picked[key]);
    });
    current = state = { id: (state && state.id) || uuid(), v: C.version, c: choices, t: Date.now() };
    writeCookie(state);
    var mode = consentMode(choices);
    gtag('consent', 'update', mode);
    queue(queue().concat([{ id: uuid(), consent_id: state.id, notice: C.notice, lang: C.lang, action: action,
      layer: layer, choices: choices, gpc: gpc, consent_mode: mode, path: location.pathname }]));
    flush();
    hide(banner);
    show(settingsButton);  // before closeDialog, so focus can return to it
    closeDialog();
    if (focused && banner.contains(focused)) settingsButton.focus();
    listeners.forEach(function (fn) { fn(api.consent()); });
    var revoked = optional.filter(function (key) { return before[key] && !choices[key]; });
    if (revoked.length) {
      revoked.forEach(expireCookies);
      location.reload();
    } else {
      activate(d);
    }
  }

  // --- rendering -------------------------------------------------------------------------------
  function h(tag, attrs, children) {
    var el = d.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') el.textContent = attrs[name];
      else if (name === 'click') el.addEventListener('click', attrs[name]);
      else el.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) el.appendChild(child); });
    return el;
  }
  function show(el) { el.hidden = false; }
  function hide(el) { if (el) el.hidden = true; }
  function button(label, click, cls) { return h('button', { type: 'button', 'class': cls || 'btn', text: label, click: click }); }
  function notes() {
    return [state && !current ? h('p', { 'class': 'note', text: T.changed }) : null,
      gpc ? h('p', { 'class': 'note', text: T.gpc }) : null];
  }

  function buildBanner() {
    return h('div', { 'class': 'banner', role: 'region', 'aria-labelledby': 'cg-title', hidden: '' }, [
      h('h2', { id: 'cg-title', text: T.title }),
      h('p', {}, [d.createTextNode(T.body + ' '), h('a', { href: C.privacy, target: '_blank', rel: 'noopener', text: T.more })])
    ].concat(notes(), [h('div', { 'class': 'actions' }, [
      button(T.accept_all, function () { decide('accept_all', 1); }),
      button(T.reject_all, function () { decide('reject_all', 1); }),
      button(T.choose, function () { openDialog(); })
    ])]));
  }

  function buildDialog() {
    var picked = {};
    var rows = C.cats.map(function (c) {
      var id = 'cg-' + c.key;
      var title = c.exempt ? h('h3', {}, [d.createTextNode(c.name + ' '), h('span', { 'class': 'always', text: T.always_on })])
        : h('h3', {}, [h('label', { 'class': 'switch' }, [
          h('input', { type: 'checkbox', id: id, 'data-key': c.key, 'aria-describedby': id + '-d' }),
          d.createTextNode(c.name)])]);
      var cookies = C.cookies.filter(function (k) { return k.cat === c.key; });
      return h('section', { 'class': 'cat' }, [
        title,
        h('p', { id: id + '-d', text: c.text }),
        cookies.length ? h('details', {}, [h('summary', { text: T.cookies + ' (' + cookies.length + ')' }),
          h('ul', {}, cookies.map(function (k) {
            return h('li', { text: k.name + ' \u2014 ' + k.provider + (k.third ? ' (' + T.third_party + ')' : '') + ': ' + k.purpose + ' ' + T.lifetime + ': ' + k.lifetime + '.' });
          }))]) : null
      ]);
    });
    var read = function () {
      dialog.querySelectorAll('input[data-key]').forEach(function (i) { picked[i.getAttribute('data-key')] = i.checked; });
      return picked;
    };
    dialog = h('div', { 'class': 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cg-dtitle' }, [
      h('div', { 'class': 'head' }, [h('h2', { id: 'cg-dtitle', text: T.preferences_title }), button('\u00d7', closeDialog, 'close')]),
      h('p', { text: T.body })
    ].concat(notes(), rows, [h('div', { 'class': 'actions' }, [
      button(T.save_selection, function () { decide('save_selection', 2, read()); }),
      button(T.accept_all, function () { decide('accept_all', 2); }),
      button(T.reject_all, function () { decide('reject_all', 2); })
    ])]));
    dialog.querySelector('.close').setAttribute('aria-label', T.close);
    // The overlay takes focus on a click anywhere in it, so the trap keeps working after a click.
    var layer = h('div', { 'class': 'overlay', tabindex: '-1', hidden: '' }, [dialog]);
    layer.addEventListener('keydown', trapFocus);
    return layer;
  }

  function trapFocus(e) {
    if (e.key === 'Escape') { e.preventDefault(); closeDialog(); return; }
    if (e.key !== 'Tab') return;
    var items = Array.prototype.filter.call(dialog.querySelectorAll('button,input,summary,a[href]'),
      function (el) { return el.offsetParent !== null; });
    var first = items[0], last = items[items.length - 1], active = root.activeElement;
    if (e.shiftKey && (active === first || !dialog.contains(active))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (active === last || !dialog.contains(active))) { e.preventDefault(); first.focus(); }
  }

  function openDialog() {
    opener = root.activeElement || d.activeElement;
    var shown = current || state;
    dialog.querySelectorAll('input[data-key]').forEach(function (i) {
      var key = i.getAttribute('data-key');
      i.checked = !!(shown && shown.c[key]) && !(gpc && (key === 'tracking' || key === 'marketing') && !current);
    });
    show(overlay);
    dialog.querySelector('input,button').focus();
  }

  function closeDialog() {
    if (!overlay || overlay.hidden) return;
    hide(overlay);
    var target = opener && opener.isConnected && !opener.closest('[hidden]') ? opener : (banner.hidden ? settingsButton : banner.querySelector('button'));
    if (target) target.focus();
  }

  var settingsButton;
  function render() {
    var host = d.createElement('cookiegate-banner');
    host.setAttribute('style', 'all:initial!important');
    host.lang = C.lang;  // the texts' language, whatever the page speaks
    root = host.attachShadow({ mode: 'open' });
    banner = buildBanner();
    overlay = buildDialog();
    settingsButton = button(T.settings, openDialog, 'settings');
    settingsButton.hidden = true;
    [h('style', { text: C.css }), banner, overlay, settingsButton].forEach(function (el) { root.appendChild(el); });
    d.body.insertBefore(host, d.body.firstChild); // first in focus order, fixed on screen
    if (current) show(settingsButton); else { show(banner); mark('visible'); }
  }

  var api = {
    consent: function () { return current ? { id: current.id, notice: C.version, categories: Object.assign({}, current.c) } : null; },
    has: function (key) { return granted(key); },
    on: function (event, fn) { if (event === 'change') listeners.push(fn); },
    open: function () { if (root) openDialog(); }
  };
  w.cookiegate = api;

  if (current) gtag('consent', 'update', consentMode(current.c));
  function start() { render(); activate(d); flush(); }
  if (d.body) start(); else d.addEventListener('DOMContentLoaded', start);
  w.addEventListener('online', flush);
})(window, document, __COOKIEGATE_CONFIG__);
