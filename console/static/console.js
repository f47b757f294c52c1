// 96596 console: screen-pop over server-sent events, transfer, countdowns.
// Everything shown from events is set with textContent, never as HTML.
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: body === undefined ? '' : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
        if (!r.ok) throw new Error((data && data.error) || ('HTTP ' + r.status));
        return data;
      });
    });
  }

  function countdown(ms) {
    var s = Math.round(ms / 1000), neg = s < 0;
    s = Math.abs(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    var txt = (d ? d + '天' : '') + (h ? h + '小时' : '') + m + '分';
    return neg ? '已超时 ' + txt : '剩余 ' + txt;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll('[data-due]').forEach(function (e) {
      if (e.dataset.done === '1') return;
      var left = Number(e.dataset.due) - now;
      e.textContent = (e.dataset.label ? e.dataset.label + '：' : '') + countdown(left);
      e.classList.toggle('late', left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  var printBtn = document.getElementById('print');
  if (printBtn) printBtn.addEventListener('click', function () { window.print(); });

  // unitLabel names a unit by its id, as the transfer picker lists it.
  function unitLabel(id) {
    var picker = document.getElementById('transfer-unit');
    var opt = picker && Array.prototype.find.call(picker.options, function (o) { return o.value === id; });
    return opt ? opt.textContent : id;
  }

  // Transfer: the panel is loaded after a pop, so listen on the document.
  document.addEventListener('click', function (ev) {
    if (!ev.target || ev.target.id !== 'transfer') return;
    var box = document.getElementById('transfer-box');
    var unit = document.getElementById('transfer-unit').value;
    var out = document.getElementById('transfer-result');
    if (!unit) { out.textContent = '请选择单位'; return; }
    out.textContent = '正在转接…';
    post('/api/tickets/' + box.dataset.ticket + '/transfer', { unit: unit })
      .then(function (res) { out.textContent = res && res.outcome === 'connected' ? '已接通单位：' + unitLabel(unit) : '转接结果：' + ((res && res.outcome) || unitLabel(unit)); out.dataset.state = res && res.outcome === 'connected' ? 'connected' : 'failed'; })
      .catch(function (err) { out.textContent = '转接失败：' + err.message; out.dataset.state = 'failed'; });
  });

  var status = document.getElementById('agent-status');
  if (!status) return;
  var me = status.dataset.agent;
  var queueState = document.getElementById('queue-state');
  document.getElementById('queue-login').addEventListener('click', function () {
    post('/api/agents/' + encodeURIComponent(me) + '/login').then(function () { queueState.textContent = '已签入'; })
      .catch(function (err) { queueState.textContent = '签入失败：' + err.message; });
  });
  document.getElementById('queue-logout').addEventListener('click', function () {
    post('/api/agents/' + encodeURIComponent(me) + '/logout').then(function () { queueState.textContent = '已签出'; })
      .catch(function (err) { queueState.textContent = '签出失败：' + err.message; });
  });

  var pop = document.getElementById('pop');
  var panel = document.getElementById('panel');
  var streamState = document.getElementById('stream-state');
  var lastSeq = 0;

  function summaryRow(s) {
    var tr = el('tr');
    var a = el('a', s.number); a.href = '/tickets/' + s.id;
    var td = el('td'); td.appendChild(a); tr.appendChild(td);
    [s.line, s.kind, s.status, s.satisfaction, s.opened].forEach(function (v) { tr.appendChild(el('td', v)); });
    return tr;
  }

  function showPop(p) {
    var t = p.ticket;
    document.getElementById('pop-number').textContent = t.number;
    document.getElementById('pop-caller').textContent = t.caller;
    document.getElementById('pop-line').textContent = t.line || '人工服务';
    var w = t.wait_seconds;
    document.getElementById('pop-wait').textContent = (w >= 60 ? Math.floor(w / 60) + '分' : '') + (w % 60) + '秒';
    document.getElementById('pop-status').textContent = t.status_label;
    var dl = document.getElementById('pop-deadlines'); dl.replaceChildren();
    t.deadlines.forEach(function (d) {
      var li = el('li', d.stage, d.missed ? 'late' : '');
      if (!d.done) { li.dataset.due = d.due_ms; li.dataset.label = d.stage; }
      dl.appendChild(li);
    });
    var rp = document.getElementById('pop-repeats'); rp.replaceChildren();
    if (!t.repeats.length) rp.appendChild(el('li', '无'));
    t.repeats.forEach(function (s) {
      var li = el('li'); var a = el('a', s.number); a.href = '/tickets/' + s.id;
      li.appendChild(a); li.appendChild(el('span', ' ' + s.line + ' ' + s.status));
      rp.appendChild(li);
    });
    var tb = document.getElementById('pop-earlier'); tb.replaceChildren();
    t.earlier.forEach(function (s) { tb.appendChild(summaryRow(s)); });
    pop.hidden = false;
    pop.classList.remove('ended');
    pop.dataset.ticket = t.id;
    pop.dataset.call = p.call_id;
    var shown = Date.now();
    pop.dataset.shown = String(shown);
    pop.dataset.latency = String(shown - p.at_ms);
    pop.dataset.seq = String(p.seq);
    tick();
    loadPanel(t.id);
  }

  function loadPanel(id) {
    var work = document.getElementById('work');
    if (work && work.dataset.ticket === String(id)) return;
    fetch('/agent/panel/' + id, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.text();
    }).then(function (html) {
      // The fragment is rendered and escaped by the server's templates.
      panel.innerHTML = html;
    }).catch(function (err) { panel.replaceChildren(el('p', '工单加载失败：' + err.message, 'error')); });
  }

  function handle(type, e) {
    var p;
    try { p = JSON.parse(e.data); } catch (err) { return; }
    if (p.seq <= lastSeq) return;
    lastSeq = p.seq;
    var out = document.getElementById('transfer-result');
    switch (type) {
      case 'screen-pop': showPop(p); break;
      case 'transferred': if (out) { out.textContent = '已接通单位：' + unitLabel(p.unit); out.dataset.state = 'connected'; } break;
      case 'transfer-failed': if (out) { out.textContent = '转接未成功：' + p.outcome; out.dataset.state = 'failed'; } break;
      case 'call-ended':
        if (pop.dataset.call === p.call_id) { pop.classList.add('ended'); document.getElementById('pop-status').textContent = '通话已结束'; }
        break;
    }
  }

  function connect() {
    var es = new EventSource('/api/events');
    es.onopen = function () { streamState.textContent = '已连接'; streamState.dataset.state = 'open'; };
    es.onerror = function () { streamState.textContent = '重新连接中…'; streamState.dataset.state = 'retry'; };
    ['screen-pop', 'transferred', 'transfer-failed', 'call-ended'].forEach(function (type) {
      es.addEventListener(type, function (e) { handle(type, e); });
    });
  }
  connect();
})();
