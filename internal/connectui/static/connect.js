// latchkey Connect UI. Plain DOM, no framework, no inline handlers (strict CSP).
// Every string from the server or the user is set with textContent, never parsed as HTML.
(function () {
  'use strict';

  var app = document.getElementById('app');
  var cfg = JSON.parse(app.getAttribute('data-config'));
  var S = cfg.strings;
  var embedded = window.parent !== window;
  var token = null;
  var state = { session: null, integrations: [], integration: null, provider: null, busy: false };

  // ---------- helpers ----------
  // French elides "de", "que", "le", "la" before a vowel: "auprès d’Atlassian",
  // not "auprès de Atlassian". Only where a value is put into a sentence.
  var ELIDE = cfg.lang === 'fr' ? /(^|[\s(])(de|que|le|la) $/i : null;
  var VOWEL = /^[aeiouyàâäéèêëîïôöùûüœæ]/i;
  function t(key, vars) {
    var s = S[key] || key;
    if (!vars) return s;
    var out = '', last = 0, m, re = /\{([a-zA-Z_]+)\}/g;
    while ((m = re.exec(s))) {
      out += s.slice(last, m.index);
      last = re.lastIndex;
      if (!Object.prototype.hasOwnProperty.call(vars, m[1])) { out += m[0]; continue; }
      var v = String(vars[m[1]]);
      if (ELIDE && VOWEL.test(v)) {
        out = out.replace(ELIDE, function (all, before, word) {
          return before + word.slice(0, word.length === 3 ? 2 : 1) + '’';
        });
      }
      out += v;
    }
    return out + s.slice(last);
  }
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k === 'class') el.className = v;
        else if (k === 'on') Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
        else if (k.indexOf('aria-') === 0 || k.indexOf('data-') === 0 || k === 'role' || k === 'for' || k === 'autocomplete' ||
                 k === 'inputmode' || k === 'spellcheck' || k === 'autocapitalize' || k === 'rel' || k === 'target') el.setAttribute(k, v === true ? 'true' : v);
        else el[k] = v;
      });
    }
    (function add(list) {
      for (var i = 0; i < list.length; i++) {
        var c = list[i];
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) add(c);
        else el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
      }
    })(Array.prototype.slice.call(arguments, 2));
    return el;
  }
  function post(evt) {
    if (embedded) window.parent.postMessage(evt, '*');
    if (window.opener && !embedded) { try { window.opener.postMessage(evt, '*'); } catch (e) { /* cross-origin opener gone */ } }
  }
  function applyTheme(theme, primary) {
    if (theme === 'light' || theme === 'dark' || theme === 'system') document.documentElement.setAttribute('data-theme', theme);
    if (!/^#[0-9a-fA-F]{6}$/.test(primary || '')) return;
    var p = palette(primary), style = document.documentElement.style;
    Object.keys(p).forEach(function (k) { style.setProperty('--' + k, p[k]); });
  }

  // ---------- accent colours ----------
  // Any accent colour stays readable (WCAG AA): text on a button takes white or
  // near-black, whichever contrasts more (at least 4.5:1 for any colour); links
  // are the accent darkened (light theme) or lightened (dark theme) until they
  // reach 4.5:1 on the card; in the dark theme the button is lightened until it
  // stands out from the card (3:1). The light theme keeps the brand colour as is.
  var WHITE = [255, 255, 255], INK = [16, 18, 20], BLACK = [0, 0, 0];
  var LIGHT_CARD = WHITE, DARK_CARD = [34, 39, 43]; // --card in connect.css
  function rgb(hex) { return [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); }); }
  function hex(c) { return '#' + c.map(function (v) { return ('0' + Math.round(v).toString(16)).slice(-2); }).join(''); }
  function luminance(c) {
    var l = c.map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  // towards mixes c with target in steps of 5 % until it contrasts enough with bg.
  function towards(c, target, bg, ratio) {
    for (var i = 0; i <= 20; i++) {
      var m = c.map(function (v, j) { return Math.round(v + (target[j] - v) * i / 20); });
      if (contrast(m, bg) >= ratio) return m;
    }
    return target;
  }
  function textOn(c) { return contrast(WHITE, c) >= contrast(INK, c) ? WHITE : INK; }
  function palette(primary) {
    var c = rgb(primary), dark = towards(c, WHITE, DARK_CARD, 3);
    return {
      'p-light': hex(c), 'on-p-light': hex(textOn(c)), 'link-light': hex(towards(c, BLACK, LIGHT_CARD, 4.5)),
      'p-dark': hex(dark), 'on-p-dark': hex(textOn(dark)), 'link-dark': hex(towards(c, WHITE, DARK_CARD, 4.5))
    };
  }
  function api(method, path, body) {
    var opts = { method: method, headers: { 'Accept': 'application/json' }, credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store' };
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    if (path.indexOf('/api-auth/') !== 0) opts.headers['Authorization'] = 'Bearer ' + token;
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: res.status, ok: res.ok, data: data, headers: res.headers };
      });
    }, function () { return { status: 0, ok: false, data: null }; });
  }
  function logoURL(providerName) { return '/images/template-logos/' + encodeURIComponent(providerName) + '.svg'; }
  // providerName is the vendor as a person says it in a sentence: the first word
  // of the display name ("Atlassian" for "Atlassian Service Account (API Token)").
  function providerName() {
    var full = state.provider ? state.provider.display_name : (state.integration ? state.integration.display_name : '');
    return full.split(/[\s(]/)[0] || full;
  }

  // ---------- screens ----------
  function closeButton() {
    if (!embedded && !window.opener) return null;
    return h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('close'), title: t('close'), on: { click: closeUI } }, '×');
  }
  function closeUI() {
    post({ type: 'close' });
    if (!embedded && window.opener) window.close();
  }
  function render(card, focusHeading) {
    app.replaceChildren(card);
    if (focusHeading !== false) {
      var h1 = card.querySelector('h1');
      if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
    }
  }
  function messageScreen(title, body, withRetry) {
    var card = h('section', { class: 'card', 'aria-labelledby': 'title' }, closeButton(),
      h('h1', { id: 'title', text: title }),
      h('p', { class: 'lead', text: body }),
      withRetry ? h('button', { type: 'button', class: 'primary', text: t('retry'), on: { click: start } }) : null);
    render(card);
  }
  // deadLink says what is true of a session token the API refused: malformed,
  // expired (the API says when), or unknown (cancelled, or expired and purged).
  function deadLink(err) {
    if (err && err.code === 'invalid_connect_session_token_format') return messageScreen(t('invalid_link_title'), t('invalid_link_body'));
    if (err && err.payload && err.payload.expired_at) return messageScreen(t('expired_title'), t('expired_body'));
    return messageScreen(t('unknown_link_title'), t('unknown_link_body'));
  }
  function apiError(r) { return (r.data && r.data.error) || null; }
  function loading() {
    app.replaceChildren(h('section', { class: 'card', 'aria-busy': 'true' }, h('div', { class: 'spinner', 'aria-hidden': 'true' }),
      h('p', { class: 'muted center', role: 'status', text: t('loading') })));
  }

  function start() {
    loading();
    api('GET', '/connect/session').then(function (r) {
      if (r.status === 401) return deadLink(apiError(r));
      if (!r.ok) return messageScreen(t('err_generic'), (r.data && r.data.error && r.data.error.message) || '', true);
      state.session = r.data.data;
      var theme = state.session.connectUISettings && state.session.connectUISettings.theme;
      applyTheme(null, theme && theme.light && theme.light.primary);
      return api('GET', '/integrations').then(function (ri) {
        if (ri.status === 401) return deadLink(apiError(ri));
        if (!ri.ok) return messageScreen(t('err_generic'), '', true);
        state.integrations = ri.data.data || [];
        if (state.session.isReconnecting && state.session.reconnect) {
          var key = state.session.reconnect.integration_id;
          state.integrations = state.integrations.filter(function (i) { return i.unique_key === key; });
        }
        if (state.integrations.length === 0) return messageScreen(t('none_title'), t('none_body'));
        if (state.integrations.length === 1) return openIntegration(state.integrations[0], false);
        return listScreen();
      });
    });
  }

  function listScreen() {
    var items = state.integrations.map(function (integ) {
      return h('li', null, h('button', { type: 'button', class: 'item', on: { click: function () { openIntegration(integ, true); } } },
        h('img', { src: logoURL(integ.provider), alt: '' }),
        h('span', { text: integ.display_name })));
    });
    render(h('section', { class: 'card', 'aria-labelledby': 'title' }, closeButton(),
      h('h1', { id: 'title', text: t('choose_title') }),
      h('p', { class: 'lead', text: t('choose_body') }),
      h('ul', { class: 'list' }, items)));
  }

  function openIntegration(integ, fromList) {
    state.integration = integ;
    loading();
    api('GET', '/providers/' + encodeURIComponent(integ.provider)).then(function (r) {
      if (r.status === 401) return deadLink(apiError(r));
      if (!r.ok) return messageScreen(t('err_generic'), '', true);
      state.provider = r.data.data;
      formScreen(fromList);
    });
  }

  // ---------- form ----------
  var UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
  var EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;
  var HOST = /^[a-zA-Z0-9.-]+$/;
  // The credentials each auth mode submits, and which of them are secret; their
  // titles come from the provider's entry, or else from the translations (field_<name>).
  var BASE_FIELDS = { BASIC: ['username', 'password'], API_KEY: ['apiKey'], OAUTH2_CC: ['client_id', 'client_secret'] };
  var SECRET_FIELDS = { password: true, apiKey: true, client_secret: true };
  var ROUTES = { BASIC: '/api-auth/basic/', API_KEY: '/api-auth/api-key/', OAUTH2_CC: '/oauth2/auth/' };
  function labelOf(f) { return f.schema.title || (S['field_' + f.name] ? t('field_' + f.name) : f.name); }

  // fieldsFor follows Nango's form rules: base credentials (numbered from 100),
  // connection_config fields with an order before them, others after.
  function fieldsFor(p) {
    var fields = [];
    var creds = p.credentials || {};
    (BASE_FIELDS[p.auth_mode] || []).forEach(function (name, i) {
      var schema = creds[name] || {};
      if (schema.secret === undefined && SECRET_FIELDS[name]) schema = Object.assign({ secret: true }, schema);
      fields.push({ kind: 'credential', name: name, schema: schema, order: 100 + i });
    });
    var after = 1000;
    Object.keys(p.connection_config || {}).forEach(function (name) {
      var s = p.connection_config[name];
      if (s.automated) return;
      fields.push({ kind: 'config', name: name, schema: s, order: typeof s.order === 'number' ? s.order : after++ });
    });
    fields.sort(function (a, b) { return a.order - b.order; });
    var secret = secretOf(fields);
    if (p.credentials_expiry && secret) {
      // latchkey extension: the secret's expiry date, right after the credentials,
      // with the secret's guide section.
      // Dates are the user's own: today and a year ahead in the browser's time zone.
      var now = new Date(), max = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 365);
      var label = labelOf(secret);
      fields.push({ kind: 'expiry', name: 'credentials_expires_at', order: 999,
        schema: { title: t('expiry_label', { field: label }), description: t('expiry_help', { field: label }), optional: true, type: 'date',
          min: localDate(now), max: localDate(max), doc_section: secret.schema.doc_section } });
      fields.sort(function (a, b) { return a.order - b.order; });
    }
    return fields;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function localDate(d) { return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()); }
  // endOfLocalDay turns a picked YYYY-MM-DD into the last second of that day in
  // the browser's time zone, as RFC 3339 with its offset (the server is in UTC).
  function endOfLocalDay(v) {
    var p = v.split('-').map(Number), off = -new Date(p[0], p[1] - 1, p[2], 23, 59, 59).getTimezoneOffset();
    return v + 'T23:59:59' + (off < 0 ? '-' : '+') + pad(Math.floor(Math.abs(off) / 60)) + ':' + pad(Math.abs(off) % 60);
  }
  // secretOf is the credential that expires, is replaced on a reconnect and is
  // blamed when the provider refuses: the last secret one (password, API key, client secret).
  function secretOf(fields) {
    return fields.filter(function (f) { return f.kind === 'credential' && f.schema.secret; }).pop() || null;
  }

  function trimmed(f, v) { return (f.schema.format || f.schema.pattern) ? v.trim() : v; }

  function validate(f, raw) {
    var s = f.schema, v = trimmed(f, raw), label = labelOf(f);
    if (v === '') {
      if (s.optional || s.default_value) return '';
      if (f.kind === 'credential' && f.name === 'password' && !(s.pattern || s.format)) return ''; // BASIC password may be empty
      return t('err_required', { field: label });
    }
    if (s.type === 'date' && (!/^\d{4}-\d{2}-\d{2}$/.test(v) || (s.min && v < s.min) || (s.max && v > s.max))) return t('err_date', { field: label });
    if (s.format === 'uuid' && !UUID.test(v)) return s.example && !s.secret ? t('err_uuid', { field: label, example: s.example }) : t('err_uuid_plain', { field: label });
    if (s.format === 'email' && !EMAIL.test(v)) return t('err_email', { field: label });
    if (s.format === 'hostname' && !HOST.test(v)) return t('err_hostname', { field: label });
    if (s.format === 'uri') { try { var u = new URL(v); if (!u.host) throw 0; } catch (e) { return t('err_uri', { field: label }); } }
    if (s.pattern) {
      var re; try { re = new RegExp(s.pattern); } catch (e) { re = null; }
      if (re && !re.test(v)) return t(s.secret ? 'err_pattern_secret' : 'err_pattern', { field: label });
    }
    return '';
  }

  // docLink is a field's "How do I find this?": the session's override (one
  // page for every field, as Nango does), else its section of the guide. A
  // field without a section has none; the guide link under the form remains.
  function docLink(f) {
    if (docsOverride()) return docsOverride();
    var base = state.provider.docs_connect;
    if (!base || !f.schema.doc_section) return '';
    return guideURL(base) + f.schema.doc_section;
  }
  // docsOverride is the session's overrides[integration].docs_connect, if any.
  function docsOverride() {
    var o = state.session.overrides && state.session.overrides[state.integration.unique_key];
    return (o && o.docs_connect) || '';
  }
  // guideURL passes a theme the page was asked for on to latchkey's own guides.
  function guideURL(u) {
    var theme = document.documentElement.getAttribute('data-theme');
    if ((theme !== 'light' && theme !== 'dark') || !/^(https?:\/\/[^\/]+)?\/docs\/connect\/[^\/?#]+$/.test(u)) return u;
    return u + '?theme=' + theme;
  }

  function formScreen(fromList) {
    var p = state.provider, integ = state.integration;
    var reconnect = !!state.session.isReconnecting;
    var defaults = (state.session.integrations_config_defaults || {})[integ.unique_key] || {};
    var preset = defaults.connection_config || {};
    var prefill = (reconnect && state.session.reconnect && state.session.reconnect.prefill) || { connection_config: {}, credentials: {} };
    var fields = fieldsFor(p), secret = secretOf(fields);
    var inputs = {};
    var alertBox = h('div', { role: 'alert', class: 'alert error-box', hidden: true });
    var status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });

    // showError puts msg under the field; fromServer marks it as the API's
    // English, so a screen reader on a page in another language reads it right.
    function showError(f, msg, fromServer) {
      var rec = inputs[f.name];
      if (!rec || rec.hidden) return;
      rec.error.textContent = msg;
      rec.error.hidden = !msg;
      if (fromServer && cfg.lang !== 'en') rec.error.setAttribute('lang', 'en'); else rec.error.removeAttribute('lang');
      rec.control.classList.toggle('invalid', !!msg);
      if (msg) rec.input.setAttribute('aria-invalid', 'true'); else rec.input.removeAttribute('aria-invalid');
    }

    var rows = fields.map(function (f) {
      var s = f.schema, id = 'f-' + f.name.replace(/[^a-zA-Z0-9_-]/g, '_');
      var label = labelOf(f);
      var presetValue = f.kind === 'config' && Object.prototype.hasOwnProperty.call(preset, f.name) ? String(preset[f.name]) : null;
      var hidden = !!(s.hidden || presetValue !== null);
      var value = presetValue !== null ? presetValue
        : f.kind === 'config' && prefill.connection_config[f.name] !== undefined ? prefill.connection_config[f.name]
        : f.kind === 'credential' && prefill.credentials[f.name] !== undefined ? prefill.credentials[f.name]
        : (s.default_value || '');
      if (hidden) { inputs[f.name] = { f: f, hidden: true, value: value }; return null; }

      var required = !(s.optional || s.default_value) && !(f.name === 'password' && f.kind === 'credential' && !(s.pattern || s.format));
      var descId = id + '-desc', errId = id + '-err';
      var input;
      if (Array.isArray(s.enum) && s.enum.length) {
        input = h('select', { id: id, name: f.name });
        if (s.optional) input.appendChild(h('option', { value: '', text: '' }));
        s.enum.forEach(function (opt) { input.appendChild(h('option', { value: String(opt), text: String(opt) })); });
        input.value = value || (s.optional ? '' : String(s.enum[0]));
      } else {
        input = h('input', {
          id: id, name: f.name, type: s.type === 'date' ? 'date' : s.secret ? 'password' : (s.format === 'email' ? 'email' : 'text'), value: value,
          min: s.min, max: s.max,
          placeholder: s.example || label, autocomplete: s.secret ? 'off' : (s.format === 'email' ? 'email' : 'off'),
          spellcheck: 'false', autocapitalize: 'off', inputmode: s.format === 'email' ? 'email' : undefined,
        });
      }
      input.setAttribute('aria-describedby', (s.description ? descId + ' ' : '') + errId);
      if (required) input.setAttribute('aria-required', 'true');
      var control = h('div', { class: 'control' }, s.prefix ? h('span', { class: 'adorn', 'aria-hidden': 'true', text: s.prefix }) : null, input,
        s.suffix ? h('span', { class: 'adorn', 'aria-hidden': 'true', text: s.suffix }) : null);
      if (s.secret && input.tagName === 'INPUT') {
        var toggle = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false', 'aria-controls': id,
          'aria-label': t('show_secret_label', { field: label }), text: t('show_secret') });
        toggle.addEventListener('click', function () {
          var show = input.type === 'password';
          input.type = show ? 'text' : 'password';
          toggle.setAttribute('aria-pressed', show ? 'true' : 'false');
          toggle.textContent = show ? t('hide_secret') : t('show_secret');
          toggle.setAttribute('aria-label', t(show ? 'hide_secret_label' : 'show_secret_label', { field: label }));
        });
        control.appendChild(toggle);
      }
      var error = h('p', { class: 'error', id: errId, hidden: true });
      var rec = { f: f, input: input, control: control, error: error, touched: false };
      inputs[f.name] = rec;
      // Checked when the user leaves the field, but an empty field is only
      // flagged on submit, and leaving towards the submit button flags nothing:
      // a message appearing above the button would move it under the pointer
      // and swallow the click (submit checks everything anyway).
      input.addEventListener('blur', function (ev) {
        if (ev.relatedTarget && ev.relatedTarget.type === 'submit') return;
        if (input.value === '' && error.hidden) return;
        rec.touched = true;
        showError(f, validate(f, input.value));
      });
      input.addEventListener('input', function () { if (rec.touched || !error.hidden) showError(f, validate(f, input.value)); });
      var link = docLink(f);
      return h('div', { class: 'field' },
        h('div', { class: 'label-row' },
          h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true', text: '*' }) : h('span', { class: 'opt', text: '(' + t('optional') + ')' }),
            required ? h('span', { class: 'sr-only', text: ' (' + t('required') + ')' }) : null),
          link ? h('a', { class: 'help', href: link, target: '_blank', rel: 'noopener noreferrer', text: t('how_find') }) : null),
        s.description ? h('p', { class: 'desc', id: descId, text: s.description }) : null,
        control, error);
    });

    var submitLabel = reconnect ? t('submit_reconnect') : t('submit');
    var button = h('button', { type: 'submit', class: 'primary' }, h('span', { text: submitLabel }));
    // The page checks every field itself (in the page's language, focusing the
    // first bad one): the browser's own validation bubbles are switched off.
    var form = h('form', { noValidate: true, 'aria-labelledby': 'title' }, alertBox, rows, button, status);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (state.busy) return;
      submit();
    });

    function setBusy(on) {
      state.busy = on;
      button.disabled = on;
      button.setAttribute('aria-busy', on ? 'true' : 'false');
      button.textContent = '';
      if (on) button.appendChild(h('span', { class: 'spinner', 'aria-hidden': 'true' }));
      button.appendChild(h('span', { text: on ? t('busy', { provider: providerName() }) : submitLabel }));
      status.textContent = on ? t('busy', { provider: providerName() }) : '';
    }
    // showAlert says msg; said, when given, is what the provider answered,
    // quoted in its own language (English) after the page's sentence.
    function showAlert(msg, said) {
      alertBox.textContent = msg;
      if (msg && said) alertBox.appendChild(h('span', { class: 'said' }, ' ' + t('provider_said', { provider: providerName() }) + ' ', h('q', { lang: 'en', text: said })));
      alertBox.hidden = !msg;
    }

    // ---------- site picker ----------
    // A credential that reaches several sites (Atlassian OAuth 2.0) gets a 400
    // listing them; the page lists them as radio buttons and sends the chosen
    // one as params[cloudId] with the next submission.
    var picker = null;
    function showSitePicker(sites, chosen) {
      if (picker) picker.box.remove();
      var error = h('p', { class: 'error', id: 'site-err', hidden: true });
      var radios = [];
      var items = sites.map(function (site, i) {
        var id = 'site-' + i, host = String(site.url || '').replace(/^https?:\/\//, '').replace(/\/$/, '');
        var input = h('input', { type: 'radio', name: 'site', id: id, value: site.cloudId, checked: site.cloudId === chosen });
        input.setAttribute('aria-describedby', 'site-err');
        input.addEventListener('change', function () { pickError(''); });
        // Enter picks the focused site and submits, as Enter in a text field does.
        input.addEventListener('keydown', function (ev) {
          if (ev.key !== 'Enter') return;
          ev.preventDefault();
          input.checked = true;
          pickError('');
          if (!state.busy) submit();
        });
        radios.push(input);
        return h('li', null, h('label', { class: 'site', for: id }, input,
          h('span', { class: 'site-text' }, h('span', { class: 'site-name', text: site.name || host }), host ? h('span', { class: 'site-url', text: host }) : null)));
      });
      var box = h('fieldset', { class: 'sites', 'aria-describedby': 'site-desc' },
        h('legend', { text: t('site_legend') }),
        h('p', { class: 'desc', id: 'site-desc', text: t('site_pick_body', { count: sites.length, provider: providerName() }) }),
        h('ul', { class: 'site-list', role: 'presentation' }, items), error);
      form.insertBefore(box, button);
      picker = { box: box, radios: radios, error: error };
    }
    function pickError(msg) {
      if (!picker) return;
      picker.error.textContent = msg;
      picker.error.hidden = !msg;
      picker.box.classList.toggle('invalid', !!msg);
      picker.radios.forEach(function (r) { if (msg) r.setAttribute('aria-invalid', 'true'); else r.removeAttribute('aria-invalid'); });
    }
    function pickedSite() {
      var r = picker && picker.radios.filter(function (x) { return x.checked; })[0];
      return r ? r.value : '';
    }
    function focusPicker() {
      var r = picker.radios.filter(function (x) { return x.checked; })[0] || picker.radios[0];
      if (r) r.focus();
    }
    function fieldByPath(path) {
      if (!path || !path.length) return null;
      var name = path[0] === 'params' || path[0] === 'credentials' ? path[1] : path[0];
      var rec = inputs[name];
      return rec && !rec.hidden ? rec.f : null;
    }

    function submit() {
      showAlert('');
      var firstBad = null, params = {}, creds = {}, expiry = '';
      fields.forEach(function (f) {
        var rec = inputs[f.name];
        var raw = rec.hidden ? rec.value : rec.input.value;
        var msg = rec.hidden ? '' : validate(f, raw);
        showError(f, msg);
        if (msg && !firstBad) firstBad = rec;
        var v = trimmed(f, raw);
        if (f.kind === 'config') { if (v !== '') params[f.name] = v; } else if (f.kind === 'expiry') { expiry = v; } else creds[f.name] = v;
      });
      if (firstBad) {
        showAlert(t('err_fix_fields'));
        firstBad.input.focus();
        return;
      }
      if (picker) {
        var site = pickedSite();
        if (!site) {
          pickError(t('err_site_pick'));
          showAlert(t('err_site_required', { provider: providerName() }));
          focusPicker();
          return;
        }
        // The site picked wins over any site the form carried (a reconnect's, a preset).
        params.cloudId = site;
        delete params.subdomain;
      }
      var qs = 'connect_session_token=' + encodeURIComponent(token);
      Object.keys(params).forEach(function (k) { qs += '&params[' + encodeURIComponent(k) + ']=' + encodeURIComponent(params[k]); });
      if (expiry) qs += '&credentials_expires_at=' + encodeURIComponent(endOfLocalDay(expiry));
      setBusy(true);
      api('POST', ROUTES[p.auth_mode] + encodeURIComponent(integ.unique_key) + '?' + qs, creds).then(function (r) {
        setBusy(false);
        if (r.ok) return successScreen(r.data, fields.filter(function (f) { return !inputs[f.name].hidden; }), params);
        var err = (r.data && r.data.error) || { code: r.status === 0 ? 'network_error' : 'unknown_error', message: '' };
        handleError(err, r);
      });
    }

    // handleError shows one message at the top, in the page's language, and
    // marks the fields concerned. Fields the API names get its message beside
    // them (for a field check, the page's own wording when it has one): that is
    // where provider-specific hints, such as where to find a value, arrive.
    function handleError(err, r) {
      var name = providerName(), msg, named = [], said = '';
      var sites = (err.payload && Array.isArray(err.payload.sites)) ? err.payload.sites : [];
      if ((err.code === 'site_required' || err.code === 'site_not_accessible') && sites.length) {
        showSitePicker(sites, err.code === 'site_required' ? pickedSite() : '');
        msg = err.code === 'site_required' ? t('err_site_required', { provider: name }) : t('err_site_not_accessible', { provider: name });
        // Being asked which site is a step of the flow, not a failure: the host
        // app is told only when a site that was asked for is not reached.
        if (err.code !== 'site_required') post({ type: 'error', payload: { errorType: err.code, errorMessage: err.message || msg } });
        showAlert(msg);
        focusPicker();
        return;
      }
      (err.errors || []).forEach(function (e) {
        var f = fieldByPath(e.path);
        if (!f || named.indexOf(f) >= 0) return;
        var own = err.code === 'invalid_fields' ? validate(f, inputs[f.name].input.value) : '';
        showError(f, own || e.message || t('err_generic'), !own);
        named.push(f);
      });
      switch (err.code) {
        case 'invalid_fields':
          // A field the page does not show (preset by the session) cannot be highlighted: say what the API said.
          msg = named.length ? t('err_fix_fields') : err.message || t('err_fix_fields');
          break;
        case 'invalid_credentials':
          msg = t('err_invalid_credentials', { provider: name });
          said = (err.payload && typeof err.payload.provider_said === 'string') ? err.payload.provider_said : '';
          if (secret && !named.length) showError(secret, t('err_secret_field'));
          break;
        case 'no_accessible_sites':
          msg = t('err_no_sites', { provider: name });
          if (picker) { picker.box.remove(); picker = null; }
          break;
        case 'provider_unavailable':
        case 'network_error':
          msg = t('err_unavailable', { provider: name });
          break;
        case 'too_many_request':
          var secs = (err.payload && err.payload.retry_after) || (r.headers && r.headers.get('Retry-After')) || 30;
          msg = t('err_rate_limited', { seconds: secs });
          break;
        case 'unknown_connect_session_token':
        case 'invalid_connect_session_token_format':
          post({ type: 'error', payload: { errorType: err.code, errorMessage: err.message || '' } });
          return deadLink(err);
        default:
          msg = named.length ? t('err_field_rejected', { provider: name, field: labelOf(named[0]) }) : err.message || t('err_generic');
      }
      post({ type: 'error', payload: { errorType: err.code, errorMessage: err.message || msg } });
      showAlert(msg, said);
      var bad = form.querySelector('[aria-invalid="true"]');
      if (bad) bad.focus();
    }

    var backButton = fromList ? h('button', { type: 'button', class: 'back', text: '← ' + t('back'), on: { click: listScreen } }) : null;
    var title = reconnect ? t('reconnect_title', { provider: p.display_name }) : t('form_title', { provider: p.display_name });
    var guide = p.docs_connect ? h('p', { class: 'foot' }, h('a', { href: docsOverride() || guideURL(p.docs_connect), target: '_blank', rel: 'noopener noreferrer', text: t('guide_link') })) : null;
    render(h('section', { class: 'card' + (closeButton() ? ' closable' : '') }, closeButton(), backButton,
      h('div', { class: 'head' }, h('img', { src: logoURL(p.name), alt: '' }), h('h1', { id: 'title', text: title })),
      h('p', { class: 'lead', text: reconnect && secret ? t('reconnect_body', { field: labelOf(secret) }) : t('form_body', { provider: providerName() }) }),
      form, guide), false);
    // Focus the first field still to fill in (on a reconnect, the new secret
    // rather than the pre-filled values above it).
    var controls = Array.prototype.slice.call(form.querySelectorAll('input, select'));
    var first = controls.filter(function (el) { return el.value === ''; })[0] || controls[0];
    if (first) first.focus();
  }

  // ---------- success ----------
  // successScreen names the linked account and the details the user typed,
  // each under its title from the provider's entry (with its prefix and suffix).
  function successScreen(res, fields, values) {
    var acct = res.account || {};
    var reconnect = !!state.session.isReconnecting;
    post({ type: 'connect', payload: { providerConfigKey: res.providerConfigKey, connectionId: res.connectionId } });
    var facts = h('dl', { class: 'facts' });
    function fact(label, value) { if (value) facts.appendChild(h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', { text: value }))); }
    fact(t('success_account'), acct.displayName || acct.emailAddress);
    // The site a credential reaching several was linked to (Atlassian OAuth 2.0).
    var siteHost = String(acct.siteUrl || '').replace(/^https?:\/\//, '').replace(/\/$/, '');
    fact(t('success_site'), acct.siteName ? acct.siteName + (siteHost && siteHost !== acct.siteName ? ' (' + siteHost + ')' : '') : siteHost);
    fields.forEach(function (f) {
      var v = f.kind === 'config' && (acct[f.name] || values[f.name]);
      if (v) fact(labelOf(f), (f.schema.prefix || '') + v + (f.schema.suffix || ''));
    });
    var warnings = (res.warnings || []).map(function (w) { return h('p', { class: 'alert warn', role: 'note', text: w.message }); });
    var done = embedded || window.opener
      ? h('button', { type: 'button', class: 'primary', text: t('done'), on: { click: closeUI } })
      : h('p', { class: 'muted center', text: t('close_window') });
    render(h('section', { class: 'card', 'aria-labelledby': 'title' }, closeButton(),
      h('div', { class: 'check', 'aria-hidden': 'true', text: '✓' }),
      h('h1', { id: 'title', class: 'center', text: warnings.length ? t('warn_title') : (reconnect ? t('success_updated') : t('success_title')) }),
      h('p', { class: 'lead center', text: t('success_body', { provider: providerName() }) }),
      facts, warnings, done));
  }

  // ---------- boot ----------
  applyTheme(new URLSearchParams(location.search).get('theme') || cfg.theme, cfg.primaryColor);
  var params = new URLSearchParams(location.search);
  if (params.has('session_token')) {
    token = params.get('session_token');
    // Take the token out of the address bar (and so out of history and any later Referer).
    params.delete('session_token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    start();
  } else if (embedded) {
    window.addEventListener('message', function (ev) {
      if (ev.source !== window.parent || !ev.data || typeof ev.data !== 'object') return;
      if (ev.data.type === 'session_token' && typeof ev.data.sessionToken === 'string' && ev.data.sessionToken !== token) {
        token = ev.data.sessionToken;
        start();
      }
    });
    loading();
    post({ type: 'ready' });
  } else {
    messageScreen(t('missing_title'), t('missing_body'));
  }
})();
