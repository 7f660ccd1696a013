/**
 * The live page's one script, inline: it renders the night (or a build) from the data the server put in
 * the page, then from each server-sent event, without reloading. Every text from the night goes in
 * through textContent, never as HTML. Plain ES2017 for any browser; no framework.
 */
import { createHash } from 'node:crypto';

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var boot = JSON.parse(document.getElementById('boot').textContent);
  var LOOKS = boot.looks;
  var ORDER = boot.order;
  var night = boot.night;

  function h(tag, props, children) {
    var e = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      var v = props[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function replace(id, children) {
    var box = document.getElementById(id);
    if (!box) return;
    box.textContent = '';
    children.forEach(function (c) { if (c) box.appendChild(c); });
  }
  function duration(seconds) {
    var s = Math.round(seconds);
    if (s < 60) return s + 's';
    var hours = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), rest = s % 60;
    if (hours === 0) return rest ? m + 'm' + rest + 's' : m + 'm';
    return m ? hours + 'h' + m + 'm' : hours + 'h';
  }
  var clockFormat = new Intl.DateTimeFormat('en-GB', { timeZone: night.timezone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  function clock(iso) { return iso ? clockFormat.format(new Date(iso)) : ''; }
  function word(status) { return (LOOKS[status] || { word: status }).word; }
  function badge(status, text) {
    return h('span', { class: 'badge s-' + status, text: text || (LOOKS[status] ? LOOKS[status].symbol + ' ' : '') + word(status) });
  }
  function buildHref(id) { return '/nights/' + encodeURIComponent(night.date) + '/builds/' + encodeURIComponent(id); }
  function secondsOf(cell) {
    if (cell.status === 'running' && cell.started_at) return Math.max(0, (Date.now() - Date.parse(cell.started_at)) / 1000);
    return cell.duration_s;
  }
  // "12m (usual 10m)"; running builds count up every second.
  function durationText(cell) {
    var s = secondsOf(cell);
    var usual = cell.usual_s === null ? '' : 'usual ' + duration(cell.usual_s);
    if (s === null || s === undefined) return usual;
    return duration(s) + (usual ? ' (' + usual + ')' : '');
  }
  function durationSpan(cell) {
    var s = secondsOf(cell);
    var slow = s !== null && cell.usual_s !== null && s > cell.usual_s * 1.5 && s - cell.usual_s > 60;
    var span = h('span', { class: 'dur' + (slow ? ' slow' : ''), text: durationText(cell) });
    if (cell.status === 'running') span.setAttribute('data-ticking', cell.id);
    return span;
  }

  // ---- The night page ----

  function columnAxis(cells) {
    if (cells.some(function (c) { return 'cuda' in c.axes; })) return 'cuda';
    var names = cells.length ? Object.keys(cells[0].axes) : [];
    return names.length ? names[names.length - 1] : '';
  }
  function cellLink(cell) {
    var title = cell.id + ': ' + word(cell.status) + (cell.reason ? ' (' + cell.reason + ')' : '');
    var strip = h('span', { class: 'strip', 'aria-label': 'earlier nights' }, cell.last_nights.map(function (n) {
      return h('i', { class: 'm-' + n.status, title: n.date + ': ' + word(n.status) });
    }));
    return h('a', { class: 'cell s-' + cell.status, href: buildHref(cell.id), 'data-id': cell.id, 'data-status': cell.status, title: title }, [
      h('div', { class: 'st', text: LOOKS[cell.status].symbol + ' ' + word(cell.status) + (cell.manual ? ' (manual)' : '') }),
      h('div', {}, [durationSpan(cell)]),
      strip,
    ]);
  }
  function renderGrid() {
    var axis = columnAxis(night.cells);
    var columns = [];
    var rows = [];
    var byKey = {};
    night.cells.forEach(function (cell) {
      var column = cell.axes[axis] === undefined ? '' : cell.axes[axis];
      if (columns.indexOf(column) < 0) columns.push(column);
      var values = Object.keys(cell.axes).filter(function (k) { return k !== axis; }).map(function (k) { return cell.axes[k]; });
      var key = [cell.package].concat(values).join('\u0000');
      if (!byKey[key]) { byKey[key] = { package: cell.package, values: values, cells: {} }; rows.push(byKey[key]); }
      (byKey[key].cells[column] = byKey[key].cells[column] || []).push(cell);
    });
    // Packages by name, their rows and the columns in natural order (3.9 before 3.10, cu126 before cu128).
    var natural = function (a, b) { return a.localeCompare(b, 'en', { numeric: true }); };
    columns.sort(natural);
    rows.sort(function (a, b) { return natural(a.package, b.package) || natural(a.values.join(' '), b.values.join(' ')); });
    var head = h('tr', {}, [h('th', { class: 'row', text: '' })].concat(columns.map(function (c) { return h('th', { text: c || '—' }); })));
    var previous = '';
    var body = rows.map(function (row) {
      var group = previous !== '' && row.package !== previous;
      previous = row.package;
      return h('tr', { class: group ? 'group' : null }, [
        h('th', { class: 'row', scope: 'row' }, [h('span', { text: row.package }), ' ', h('b', { text: row.values.join(' ') })]),
      ].concat(columns.map(function (column) {
        return h('td', {}, (row.cells[column] || []).map(cellLink));
      })));
    });
    replace('grid-axis', [document.createTextNode(axis ? '(columns: ' + axis + ')' : '')]);
    replace('grid', [night.cells.length ? h('table', { class: 'grid' }, [h('thead', {}, [head]), h('tbody', {}, body)]) : h('p', { class: 'muted', text: 'No builds in this night yet.' })]);
    var shown = {};
    night.cells.forEach(function (c) { shown[c.status] = true; });
    replace('legend', ORDER.filter(function (s) { return shown[s]; }).map(function (s) { return badge(s); })
      .concat(h('span', { text: 'small squares: the same build on the nights before, oldest first' })));
  }
  function renderSummary() {
    var counts = {};
    night.cells.forEach(function (c) { counts[c.status] = (counts[c.status] || 0) + 1; });
    replace('summary', ORDER.filter(function (s) { return counts[s]; }).map(function (s) { return badge(s, counts[s] + ' ' + word(s)); }));
    var facts = [(boot.page === 'build' ? 'night ' + night.date + ' ' : '') + 'on ' + night.machine];
    if (boot.page === 'night' && night.started_at) facts.push('started ' + clock(night.started_at));
    if (boot.page === 'night' && night.finished_at) facts.push('finished ' + clock(night.finished_at));
    facts.push('times in ' + night.timezone);
    replace('facts', [document.createTextNode(facts.join(' · '))]);
  }
  function renderNotice() {
    var notes = [];
    if (night.runner_gone) notes.push(h('div', { text: 'The run of this night stopped with builds unfinished; nightshift run resumes it.' }));
    if (night.fleet && night.fleet.state === 'unreachable') notes.push(h('div', { text: 'The shared queue cannot be read, so the fleet is not shown: ' + night.fleet.problem }));
    replace('notice', notes);
  }
  function fleetList(title, items) {
    return h('div', {}, [h('h3', { text: title }), items.length ? h('ul', {}, items) : h('div', { class: 'muted', text: 'none' })]);
  }
  function renderFleet() {
    var section = document.getElementById('fleet-section');
    var fleet = night.fleet;
    if (!section) return;
    section.hidden = !fleet;
    if (!fleet) return;
    replace('fleet-url', [document.createTextNode('(' + fleet.url + ')')]);
    if (fleet.state !== 'live') {
      var text = { reading: 'Reading the shared queue…', absent: 'The shared queue holds no night ' + night.date + ' (not started yet, or over and removed).', unreachable: 'The shared queue cannot be read right now; this machine’s builds are above.' }[fleet.state];
      replace('fleet', [h('div', { class: 'muted', text: text })]);
      return;
    }
    var ended = fleet.ended.slice().reverse().slice(0, 20);
    replace('fleet', [h('div', { class: 'fleet' }, [
      fleetList('Running (' + fleet.running.length + ')', fleet.running.map(function (r) {
        return h('li', {}, [h('span', { class: 'mono', text: r.id }), ' on ' + r.machine + ' since ' + clock(r.since)]);
      })),
      fleetList('Waiting (' + fleet.waiting.length + ')', fleet.waiting.slice(0, 12).map(function (w) {
        return h('li', {}, [h('span', { class: 'mono', text: w.id }), ' ~' + duration(w.estimateS)]);
      }).concat(fleet.waiting.length > 12 ? [h('li', { class: 'muted', text: 'and ' + (fleet.waiting.length - 12) + ' more' })] : [])),
      fleetList('Ended (' + fleet.ended.length + ')', ended.map(function (e) {
        return h('li', {}, [badge(e.status in LOOKS ? e.status : 'failed', word(e.status)), ' ', h('span', { class: 'mono', text: e.id }), e.machine ? ' on ' + e.machine : '', e.reason ? ' (' + e.reason + ')' : '']);
      })),
    ])]);
  }

  // ---- A build's page ----

  function renderBuild() {
    var cell = night.cells.filter(function (c) { return c.id === boot.id; })[0];
    if (!cell) return;
    replace('build-status', [badge(cell.status)]);
    var facts = [
      ['status', word(cell.status) + (cell.manual ? ' (built by hand)' : '')],
      ['machine', cell.machine],
      ['started', clock(cell.started_at)],
      ['finished', clock(cell.finished_at)],
      ['duration', durationSpan(cell)],
      ['exit code', cell.exit_code === null ? '' : String(cell.exit_code)],
      ['reason', cell.reason || ''],
      ['attempt', cell.attempt > 1 ? String(cell.attempt) : ''],
      ['earlier nights', cell.last_nights.length ? h('span', { class: 'strip' }, cell.last_nights.map(function (n) { return h('i', { class: 'm-' + n.status, title: n.date + ': ' + word(n.status) }); })) : ''],
    ].filter(function (f) { return f[1] !== ''; });
    replace('build-facts', [h('dl', { class: 'facts' }, facts.reduce(function (all, f) {
      return all.concat([h('dt', { text: f[0] }), h('dd', {}, [f[1]])]);
    }, []))]);
  }
  function followLog() {
    var pre = document.getElementById('log');
    var state = document.getElementById('log-state');
    var log = new EventSource(boot.logUrl);
    log.addEventListener('log', function (e) {
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.appendChild(document.createTextNode(JSON.parse(e.data)));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    log.addEventListener('skipped', function (e) {
      var d = JSON.parse(e.data);
      replace('log-note', [document.createTextNode('This log is ' + d.size_text + ': the page shows its last part only (' + d.skipped_text + ' left out). '),
        h('a', { href: boot.logTxt, text: 'The whole log' })]);
    });
    log.addEventListener('end', function (e) {
      log.close();
      var d = JSON.parse(e.data);
      state.textContent = d.runner_gone
        ? 'The run of this night stopped while this build was ' + word(d.status) + '; nightshift run resumes the night.'
        : 'The build ended (' + word(d.status) + '): this is the whole log.';
    });
    log.addEventListener('missing', function (e) {
      log.close();
      state.textContent = JSON.parse(e.data).message;
    });
  }

  // ---- Live ----

  function render() {
    renderSummary();
    renderNotice();
    if (boot.page === 'night') { renderGrid(); renderFleet(); } else { renderBuild(); }
    replace('updated', [document.createTextNode('updated ' + clock(new Date().toISOString()))]);
  }
  render();
  var live = document.getElementById('live');
  var events = new EventSource(boot.eventsUrl);
  events.addEventListener('night', function (e) { night = JSON.parse(e.data); render(); });
  events.addEventListener('problem', function (e) { replace('notice', [h('div', { text: JSON.parse(e.data).message })]); });
  events.onopen = function () { live.className = 'live'; live.textContent = 'live'; };
  events.onerror = function () { live.className = 'live off'; live.textContent = 'reconnecting'; };
  if (boot.page === 'build') followLog();
  setInterval(function () {
    var ticking = document.querySelectorAll('[data-ticking]');
    for (var i = 0; i < ticking.length; i++) {
      var id = ticking[i].getAttribute('data-ticking');
      var cell = night.cells.filter(function (c) { return c.id === id; })[0];
      if (cell) ticking[i].textContent = durationText(cell);
    }
  }, 1000);
})();
`;

/** For the Content-Security-Policy: the browser runs this script and no other. */
export const PAGE_SCRIPT_HASH = `sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}`;
