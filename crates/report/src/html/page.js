// vpcflow page: draws each panel (chart, sortable table, CSV link, SQL) from the JSON in
// #vpcflow-data. No request leaves the page: the chart library and the data are inline.
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('vpcflow-data').textContent);
  var COLORS = ['#2f6fdf', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1',
    '#ff9da7', '#9c755f', '#bab0ac'];
  var OTHER = '#c4c9d2';
  var FLAG = '#d62728';
  var MAX_BARS = 30;
  var MAX_TABLE = 2000;

  // ---- numbers for people -------------------------------------------------------------
  var intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var usdFmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD',
    minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function fmtBytes(v) {
    if (v == null) return '';
    var units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
    var a = Math.abs(v), i = 0;
    while (a >= 1024 && i < units.length - 1) { a /= 1024; i++; }
    var s = i === 0 ? intFmt.format(a) : a.toFixed(a < 10 ? 2 : a < 100 ? 1 : 0);
    return (v < 0 ? '-' : '') + s + ' ' + units[i];
  }
  function fmtUsd(v) {
    if (v == null) return '';
    if (v > 0 && v < 0.005) return '< $0.01';
    return usdFmt.format(v);
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmtTime(secs) {
    if (secs == null) return '';
    var d = new Date(secs * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ' UTC';
  }
  function isoTime(secs) { return secs == null ? '' : new Date(secs * 1000).toISOString().replace('.000Z', 'Z'); }
  // What a column holds, from its name and type.
  function unitOf(col) {
    var n = col.name;
    if (col.kind === 'time') return 'time';
    if (col.kind === 'bool') return 'bool';
    if (col.kind === 'str') return 'str';
    if (/port|protocol|^hour$|_id$/.test(n)) return 'plain';
    if (/cost|usd/.test(n)) return 'usd';
    if (/ratio|coverage/.test(n)) return 'ratio';
    if (/bytes/.test(n) && !/per_gb/.test(n)) return 'bytes';
    if (col.kind === 'int') return 'int';
    return 'float';
  }
  function fmt(unit, v) {
    if (v == null) return '';
    switch (unit) {
      case 'bytes': return fmtBytes(v);
      case 'usd': return fmtUsd(v);
      case 'ratio': return (v * 100).toFixed(1) + '%';
      case 'int': return intFmt.format(v);
      case 'float': return new Intl.NumberFormat('en-US', { maximumFractionDigits: Math.abs(v) < 1 ? 4 : 2 }).format(v);
      case 'time': return fmtTime(v);
      case 'bool': return v ? 'yes' : 'no';
      default: return String(v);
    }
  }

  // Axis labels: like the table, but small amounts of money keep their digits.
  function axisFmt(unit, v) {
    if (unit === 'usd' && v !== 0 && Math.abs(v) < 0.01) return '$' + Number(v.toPrecision(2));
    return fmt(unit, v);
  }
  function valueAxis(unit) {
    return { type: 'value', minInterval: unit === 'int' || unit === 'bytes' ? 1 : undefined,
      axisLabel: { formatter: function (v) { return axisFmt(unit, v); } } };
  }

  // ---- data ---------------------------------------------------------------------------
  function decode(table) {
    var cols = table.columns.map(function (c, i) {
      var d = table.data[i];
      var vals = Array.isArray(d) ? d : d.codes.map(function (k) { return k == null ? null : d.dict[k]; });
      return { name: c.name, kind: c.kind, unit: unitOf(c), values: vals };
    });
    var byName = {};
    cols.forEach(function (c) { byName[c.name] = c; });
    return { cols: cols, by: byName, rows: table.rows, total: table.total_rows };
  }
  function label(t, xs, i, sep) {
    return xs.map(function (x) {
      var c = t.by[x];
      return c ? (c.unit === 'time' ? fmtTime(c.values[i]) : c.values[i] == null ? '(none)' : String(c.values[i])) : '';
    }).join(sep || ' → ');
  }
  function rowTooltip(t, i) {
    return t.cols.map(function (c) {
      return '<b>' + esc(c.name) + '</b>: ' + esc(fmt(c.unit, c.values[i]));
    }).join('<br>');
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (ch) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch];
    });
  }

  // ---- charts -------------------------------------------------------------------------
  function barOption(t, spec) {
    // Horizontal bars carry long labels: fewer of them, so each label stays legible.
    var n = Math.min(t.rows, spec.horizontal ? 15 : MAX_BARS);
    var cats = [], idx = [];
    for (var i = 0; i < n; i++) { cats.push(label(t, spec.x, i, spec.sep)); idx.push(i); }
    var ys = spec.y.filter(function (y) { return t.by[y]; });
    var unit = ys.length ? t.by[ys[0]].unit : 'float';
    var flag = spec.flag && t.by[spec.flag];
    var series = ys.map(function (y, s) {
      return {
        name: y, type: 'bar', stack: spec.stack ? 'all' : undefined,
        itemStyle: { color: COLORS[s % COLORS.length] },
        data: idx.map(function (i) {
          var item = { value: t.by[y].values[i], row: i };
          if (flag && flag.values[i]) item.itemStyle = { color: FLAG };
          return item;
        })
      };
    });
    var catAxis = { type: 'category', data: cats, axisLabel: { rotate: spec.horizontal ? 0 : 35, fontSize: 10, width: 160, overflow: 'truncate' }, inverse: !!spec.horizontal };
    var valAxis = valueAxis(unit);
    return {
      legendCount: ys.length > 1 ? ys.length : 0,
      option: {
        animation: false,
        grid: { left: spec.horizontal ? 190 : 80, right: 20, top: ys.length > 1 ? 30 : 12, bottom: spec.horizontal ? 30 : 90 },
        legend: { show: ys.length > 1, top: 0 },
        tooltip: { trigger: 'item', formatter: function (p) { return rowTooltip(t, p.data.row); } },
        xAxis: spec.horizontal ? valAxis : catAxis,
        yAxis: spec.horizontal ? catAxis : valAxis,
        series: series
      }
    };
  }

  function timeStackOption(t, spec) {
    var x = t.by[spec.x], s = t.by[spec.series], v = t.by[spec.v];
    var names = [], data = {};
    for (var i = 0; i < t.rows; i++) {
      var name = s.values[i] == null ? '(none)' : String(s.values[i]);
      if (!(name in data)) { data[name] = []; names.push(name); }
      data[name].push([x.values[i] * 1000, v.values[i] == null ? 0 : v.values[i]]);
    }
    var points = {};
    for (i = 0; i < t.rows; i++) points[x.values[i]] = true;
    var bars = spec.bars || Object.keys(points).length <= 48;
    // "other" last, in grey.
    names.sort(function (a, b) { return (a === 'other') - (b === 'other'); });
    var series = names.map(function (name, k) {
      var color = name === 'other' ? OTHER : COLORS[k % COLORS.length];
      return bars ?
        { name: name, type: 'bar', stack: 'all', data: data[name], itemStyle: { color: color }, barMaxWidth: 40 } :
        { name: name, type: 'line', stack: 'all', data: data[name], showSymbol: false, smooth: false,
          lineStyle: { width: 1, color: color }, itemStyle: { color: color }, areaStyle: { color: color, opacity: 0.75 } };
    });
    return {
      legendCount: names.length,
      option: {
        animation: false,
        grid: { left: 80, right: 20, top: 30 + 20 * Math.floor(names.length / 4), bottom: 30 },
        legend: { type: 'plain', top: 0, data: names, textStyle: { fontSize: 10 } },
        tooltip: {
          trigger: 'axis',
          formatter: function (ps) {
            if (!ps.length) return '';
            var total = 0;
            var lines = ps.map(function (p) {
              total += p.value[1] || 0;
              return p.marker + esc(p.seriesName) + ': ' + esc(fmt(v.unit, p.value[1]));
            });
            return '<b>' + esc(fmtTime(ps[0].value[0] / 1000)) + '</b><br>' + lines.join('<br>') +
              '<br><b>total: ' + esc(fmt(v.unit, total)) + '</b>';
          }
        },
        xAxis: { type: 'time', axisLabel: { formatter: function (ms) { return fmtTime(ms / 1000).replace(' UTC', ''); }, hideOverlap: true } },
        yAxis: valueAxis(v.unit),
        series: series
      }
    };
  }

  function heatmapOption(t, spec) {
    var xs = Array.isArray(spec.x) ? spec.x : [spec.x];
    var y = t.by[spec.y], v = t.by[spec.v];
    var xTime = xs.length === 1 && t.by[xs[0]] && t.by[xs[0]].unit === 'time';
    var xKeys = [], xIndex = {}, yKeys = [], yIndex = {}, cells = [], max = 0;
    for (var i = 0; i < t.rows; i++) {
      var xk = xTime ? t.by[xs[0]].values[i] : label(t, xs, i, ' ');
      if (!(xk in xIndex)) { xIndex[xk] = -1; xKeys.push(xk); }
      var yk = y.values[i] == null ? '(none)' : String(y.values[i]);
      if (!(yk in yIndex)) { yIndex[yk] = -1; yKeys.push(yk); }
    }
    xKeys.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
    yKeys.sort();
    xKeys.forEach(function (k, j) { xIndex[k] = j; });
    yKeys.forEach(function (k, j) { yIndex[k] = j; });
    for (i = 0; i < t.rows; i++) {
      var val = v.values[i];
      if (val == null) continue;
      var xk2 = xTime ? t.by[xs[0]].values[i] : label(t, xs, i, ' ');
      var yk2 = y.values[i] == null ? '(none)' : String(y.values[i]);
      cells.push({ value: [xIndex[xk2], yIndex[yk2], val], row: i });
      if (val > max) max = val;
    }
    var ratio = v.unit === 'ratio';
    return {
      legendCount: 0,
      option: {
        animation: false,
        grid: { left: 170, right: 20, top: 12, bottom: 70 },
        tooltip: { trigger: 'item', formatter: function (p) { return rowTooltip(t, p.data.row); } },
        xAxis: { type: 'category', data: xKeys.map(function (k) { return xTime ? fmtTime(k).replace(' UTC', '') : k; }), splitArea: { show: false }, axisLabel: { fontSize: 10, rotate: 30 } },
        yAxis: { type: 'category', data: yKeys, axisLabel: { fontSize: 10, width: 160, overflow: 'truncate' } },
        visualMap: { show: false, min: 0, max: ratio ? 1 : (max || 1), dimension: 2,
          inRange: { color: ratio ? ['#d62728', '#f7d154', '#59a14f'] : ['#dbe7fb', '#2f6fdf', '#0b2e6b'] } },
        // Cell borders only where cells are wide enough to keep their colour.
        series: [{ type: 'heatmap', data: cells, itemStyle: { borderColor: '#fff', borderWidth: xKeys.length > 60 ? 0 : 1 } }]
      }
    };
  }

  // Filled shapes the chart drew, less the legend's icons.
  function countMarks(el, legendCount) {
    var n = 0;
    el.querySelectorAll('svg path, svg rect, svg circle, svg polygon').forEach(function (s) {
      var fill = s.getAttribute('fill');
      if (fill && fill !== 'none' && fill !== 'transparent' && !/rgba\([^)]*,\s*0\)/.test(fill)) n++;
    });
    return Math.max(0, n - legendCount);
  }

  // ---- tables, CSV --------------------------------------------------------------------
  function renderTable(wrap, t, flagName) {
    var order = [];
    for (var i = 0; i < t.rows; i++) order.push(i);
    var table = document.createElement('table');
    var thead = table.createTHead().insertRow();
    var tbody = table.createTBody();
    var sortCol = -1, asc = true;
    t.cols.forEach(function (c, k) {
      var th = document.createElement('th');
      th.textContent = c.name;
      th.title = 'sort by ' + c.name;
      th.addEventListener('click', function () {
        asc = sortCol === k ? !asc : c.kind === 'str';
        sortCol = k;
        order.sort(function (a, b) {
          var x = c.values[a], y = c.values[b];
          if (x == null && y == null) return a - b;
          if (x == null) return 1;
          if (y == null) return -1;
          var r = x < y ? -1 : x > y ? 1 : a - b;
          return asc ? r : -r;
        });
        thead.querySelectorAll('th').forEach(function (h) { h.className = ''; });
        th.className = asc ? 'sorted-asc' : 'sorted-desc';
        fill();
      });
      thead.appendChild(th);
    });
    var flag = flagName && t.by[flagName];
    function fill() {
      tbody.textContent = '';
      order.slice(0, MAX_TABLE).forEach(function (i) {
        var tr = tbody.insertRow();
        if (flag && flag.values[i]) tr.className = 'flag';
        t.cols.forEach(function (c) {
          var td = tr.insertCell();
          td.textContent = fmt(c.unit, c.values[i]);
          if (c.kind === 'int' || c.kind === 'float') td.className = 'num';
        });
      });
    }
    fill();
    wrap.appendChild(table);
  }
  function csvOf(t) {
    var q = function (s) { s = String(s); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
    var lines = [t.cols.map(function (c) { return q(c.name); }).join(',')];
    for (var i = 0; i < t.rows; i++) {
      lines.push(t.cols.map(function (c) {
        var v = c.values[i];
        return v == null ? '' : c.unit === 'time' ? isoTime(v) : q(v);
      }).join(','));
    }
    return lines.join('\n') + '\n';
  }

  // ---- the page -----------------------------------------------------------------------
  var pending = 0;
  function done() {
    pending--;
    if (pending <= 0) document.body.dataset.ready = 'true';
  }

  function renderPanel(p) {
    var t = decode(p.table);
    var el = document.createElement('section');
    el.className = 'panel';
    el.id = 'panel-' + p.id;
    el.dataset.panel = p.id;
    el.dataset.rows = t.rows;
    var h = document.createElement('h2');
    h.textContent = p.title;
    el.appendChild(h);
    if (p.about) {
      var about = document.createElement('p');
      about.className = 'about';
      about.textContent = p.about;
      el.appendChild(about);
    }
    document.getElementById('panels').appendChild(el);
    if (p.chart) {
      var chartEl = document.createElement('div');
      chartEl.className = 'chart';
      el.appendChild(chartEl);
      if (!t.rows) {
        chartEl.className = 'empty';
        chartEl.textContent = 'No rows in this range.';
        el.dataset.marks = 0;
      } else {
        var built = p.chart.type === 'bar' ? barOption(t, p.chart) :
          p.chart.type === 'heatmap' ? heatmapOption(t, p.chart) : timeStackOption(t, p.chart);
        var chart = echarts.init(chartEl, null, { renderer: 'svg' });
        pending++;
        var counted = false;
        var count = function () {
          if (counted) return;
          counted = true;
          el.dataset.marks = countMarks(chartEl, built.legendCount);
          done();
        };
        chart.on('finished', count);
        chart.setOption(built.option);
        setTimeout(count, 3000);
        window.addEventListener('resize', function () { chart.resize(); });
      }
    }
    var tools = document.createElement('div');
    tools.className = 'tools';
    var shown = Math.min(t.rows, MAX_TABLE);
    var note = document.createElement('span');
    note.textContent = intFmt.format(t.total) + (t.total === 1 ? ' row' : ' rows') +
      (t.rows < t.total ? ' (the first ' + intFmt.format(t.rows) + ' here)' : '') +
      (shown < t.rows ? ', ' + intFmt.format(shown) + ' in the table' : '');
    var a = document.createElement('a');
    a.textContent = 'Download CSV';
    a.download = p.id + '.csv';
    a.href = '#';
    a.addEventListener('click', function () {
      a.href = URL.createObjectURL(new Blob([csvOf(t)], { type: 'text/csv' }));
    });
    tools.appendChild(note);
    tools.appendChild(a);
    el.appendChild(tools);
    var wrap = document.createElement('div');
    wrap.className = 'tablewrap';
    renderTable(wrap, t, p.chart && p.chart.flag);
    el.appendChild(wrap);
    if (p.sql) {
      var det = document.createElement('details');
      var sum = document.createElement('summary');
      sum.textContent = 'SQL';
      var pre = document.createElement('pre');
      pre.textContent = p.sql;
      det.appendChild(sum);
      det.appendChild(pre);
      el.appendChild(det);
    }
  }

  function render() {
    var range = document.getElementById('range');
    var parts = [];
    if (DATA.range && DATA.range.from != null) parts.push(fmtTime(DATA.range.from) + ' to ' + fmtTime(DATA.range.to));
    if (DATA.prices) parts.push(DATA.prices);
    range.textContent = parts.join(' · ');
    var head = document.getElementById('headline');
    (DATA.headline || []).forEach(function (s) {
      var card = document.createElement('div');
      card.className = 'stat';
      card.dataset.headline = s.id;
      card.dataset.value = s.value;
      card.title = s.source;
      var l = document.createElement('div');
      l.className = 'label';
      l.textContent = s.label;
      var v = document.createElement('div');
      v.className = 'value';
      v.textContent = fmt(s.unit, s.value);
      card.appendChild(l);
      card.appendChild(v);
      head.appendChild(card);
    });
    if (!(DATA.headline || []).length) head.hidden = true;
    pending++;
    DATA.panels.forEach(renderPanel);
    window.addEventListener('load', function () {
      var res = performance.getEntriesByType('resource');
      document.body.dataset.requests = res.length;
      res.forEach(function (r) { window.__vpcflowPut('request: ' + r.name); });
    });
    done();
  }
  render();
})();
