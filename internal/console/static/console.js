// latchkey console: progressive enhancements only; every page works without
// this script. Loaded with the page's CSP nonce; no inline handlers.
(function () {
  'use strict';
  var live = document.getElementById('live');
  function say(msg) {
    if (!live) return;
    live.textContent = '';
    setTimeout(function () { live.textContent = msg; }, 50);
  }
  function copy(input, button) {
    var text = input.value;
    var done = function () {
      var label = button.textContent;
      button.textContent = 'Copied';
      button.classList.add('copied');
      say('Copied to the clipboard.');
      setTimeout(function () { button.textContent = label; button.classList.remove('copied'); }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(); });
    } else {
      fallback();
    }
    function fallback() {
      input.focus();
      input.select();
      try { if (document.execCommand('copy')) { done(); return; } } catch (e) { /* below */ }
      say('Press Ctrl+C (or ⌘C) to copy the selected text.');
    }
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-copy]');
    if (!b) return;
    var input = document.getElementById(b.getAttribute('data-copy'));
    if (input) copy(input, b);
  });
  // A read-only value is selected whole when it gets focus, ready to copy.
  document.addEventListener('focusin', function (e) {
    var t = e.target;
    if (t.matches && t.matches('input[readonly]')) t.select();
  });
  // After a problem with a form, focus goes to the message.
  var problem = document.getElementById('problem');
  if (problem) {
    problem.setAttribute('tabindex', '-1');
    var invalid = document.querySelector('[aria-invalid="true"]');
    (invalid || problem).focus();
  }
  // A new key or link is focused (and selected), so it is read out and ready.
  var fresh = document.querySelector('.linkbox input[readonly]');
  if (fresh && !problem) fresh.focus();
})();
