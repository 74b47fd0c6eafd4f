// One session's page: its events stream in (/api/sessions/ID/stream, by seq); each one
// refreshes the figures, the plots and the chart from the JSON API.
"use strict";
(() => {
  const body = document.body;
  const id = body.dataset.id;
  const base = `/api/sessions/${encodeURIComponent(id)}`;
  const log = document.getElementById("events");
  const message = document.getElementById("action-message");
  let newest = 0;          // the highest seq shown: nothing at or below it is shown again
  let plots = {};
  let ended = false;

  function show(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  // -- the event log -----------------------------------------------------------------
  function eventRow(entry) {
    const tr = cook.el("tr", {"data-seq": entry.seq, class: `kind-${entry.kind}`});
    const tail = cook.el("td", {class: "tail"});
    if (entry.has_output) {
      const button = cook.el("button", {type: "button", class: "small"}, "output");
      button.addEventListener("click", () => toggleOutput(tr, entry.seq, button));
      tail.append(button);
    }
    tr.append(
      cook.el("td", {class: "seq"}, entry.seq),
      cook.el("td", {class: "time"}, cook.time(entry.timestamp)),
      cook.el("td", {class: "kind"}, entry.kind),
      cook.el("td", {class: "text"}, entry.text),
      tail,
    );
    return tr;
  }

  async function toggleOutput(tr, seq, button) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("output")) { next.remove(); return; }
    button.disabled = true;
    try {
      const recorded = await cook.json(`${base}/events/${seq}`);
      const row = cook.el("tr", {class: "output"});
      const cell = cook.el("td", {colspan: "5"});
      cell.append(cook.el("pre", {}, recorded.event.output_tail || "(no output)"));
      row.append(cell);
      tr.after(row);
    } catch (error) {
      show(message, `output: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function add(entry) {
    if (entry.seq <= newest) return false;   // caught up twice: shown once
    newest = entry.seq;
    log.prepend(eventRow(entry));
    return true;
  }

  // -- the figures, the plots, the chart ------------------------------------------------
  function figures(detail) {
    const info = detail.info, row = detail.row, p = info.progress;
    const status = document.getElementById("status");
    status.textContent = row.status;
    status.className = `pill ${row.status}`;
    document.getElementById("f-iteration").textContent = `${p.iterations_completed}/${p.total_iterations}`;
    document.getElementById("f-phase").textContent = p.current_phase || "-";
    document.getElementById("f-commands").textContent = `${p.commands_succeeded}/${p.commands_total} ok`;
    document.getElementById("f-commits").textContent = p.commits_total;
    document.getElementById("f-lines").textContent = `+${p.lines_added} −${p.lines_removed}`;
    document.getElementById("f-duration").textContent = cook.duration(row.duration_seconds);
    document.getElementById("f-started").textContent = cook.time(row.started_at);
    show(document.getElementById("reason"), row.outcome);
    const holder = row.holder;
    show(document.getElementById("holder"), holder
      ? `driven by pid ${holder.pid} on ${holder.host}` +
        (holder.heartbeat ? `, heartbeat ${cook.time(holder.heartbeat)}` : "")
      : "");
    for (const button of document.querySelectorAll("#actions button[data-action]")) {
      button.hidden = !row.actions.includes(button.dataset.action);
    }
  }

  function series(iterations) {
    const xs = [], dur = [], ok = [], failed = [], added = [], removed = [];
    for (const it of iterations) {
      xs.push(it.number);
      let seconds = null;
      if (it.completed_at) {
        const paused = it.paused ? durationSeconds(it.paused) : 0;
        seconds = (Date.parse(it.completed_at) - Date.parse(it.started_at)) / 1000 - paused;
      }
      dur.push(seconds);
      const good = it.commands.filter((c) => c.success).length;
      ok.push(good);
      failed.push(it.commands.length - good);
      added.push(it.changes ? it.changes.lines_added : null);
      removed.push(it.changes ? it.changes.lines_removed : null);
    }
    return {xs, dur, ok, failed, added, removed};
  }

  // pydantic writes a timedelta as an ISO 8601 duration (PT1.5S) in JSON
  function durationSeconds(text) {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(text || "");
    if (!m) return 0;
    return (Number(m[1] || 0) * 86400) + (Number(m[2] || 0) * 3600) + (Number(m[3] || 0) * 60) + Number(m[4] || 0);
  }

  // the y axis as wide as its longest label (0.003 or 12,000 is never cut)
  function ySize(u, values) {
    const longest = Math.max(1, ...(values || []).map((v) => String(v).length));
    return 16 + 7 * longest;
  }

  function plot(name, target, labels, colours, data, bars) {
    const node = document.getElementById(target);
    const width = Math.max(240, node.clientWidth || 300);
    const opts = {
      width, height: 170,
      legend: {show: true, live: false},
      scales: {x: {time: false, range: (u, min, max) => [min - 0.6, max + 0.6]}},
      axes: [{label: "iteration", size: 34, incrs: [1, 2, 5, 10, 20, 50, 100]}, {size: ySize}],
      series: [{label: "iteration"}].concat(labels.map((label, i) => ({
        label, stroke: colours[i], fill: bars ? colours[i] + "aa" : undefined, width: bars ? 1 : 2,
        points: {show: !bars, size: 6},
        paths: bars ? uPlot.paths.bars({size: [0.35, 40], align: i === 0 ? -1 : 1}) : undefined,
      }))),
    };
    if (plots[name]) { plots[name].setData(data); return; }
    node.replaceChildren();
    plots[name] = new uPlot(opts, data, node);
  }

  function drawPlots(info) {
    const s = series(info.progress.iterations);
    const note = document.getElementById("plots-note");
    note.textContent = s.xs.length ? "" : "no iteration yet";
    plot("duration", "plot-duration", ["duration (s)"], ["#2a7ab0"], [s.xs, s.dur], false);
    plot("commands", "plot-commands", ["ok", "failed"], ["#2e9d57", "#d0453a"], [s.xs, s.ok, s.failed], true);
    plot("lines", "plot-lines", ["added", "removed"], ["#2e9d57", "#d0453a"], [s.xs, s.added, s.removed], true);
  }

  async function drawChart() {
    const response = await fetch(`${base}/chart.svg`, {credentials: "same-origin"});
    if (!response.ok) return;
    const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
    const svg = parsed.documentElement;
    if (svg.nodeName.toLowerCase() !== "svg") return;
    document.getElementById("chart").replaceChildren(document.importNode(svg, true));
  }

  async function refresh() {
    try {
      const detail = await cook.json(base);
      figures(detail);
      drawPlots(detail.info);
      await drawChart();
      body.dataset.shownSeq = detail.last_seq;
    } catch (error) {
      show(message, `could not refresh: ${error.message}`);
    }
  }
  const soon = cook.throttle(refresh, 150);

  // -- actions -------------------------------------------------------------------------
  for (const button of document.querySelectorAll("#actions button[data-action]")) {
    button.addEventListener("click", async () => {
      const name = button.dataset.action;
      button.disabled = true;
      show(message, `${name}…`);
      message.dataset.state = "busy";
      try {
        const done = await cook.json(`${base}/${name}`, {method: "POST"});
        show(message, `${name}: ${done.message} (now ${done.status})`);
        message.dataset.state = "ok";
      } catch (error) {
        show(message, `${name} refused (${error.status || "error"}): ${error.message}`);
        message.dataset.state = "error";
      } finally {
        button.disabled = false;
        soon();
      }
    });
  }

  // -- live ----------------------------------------------------------------------------
  function follow() {
    const source = new EventSource(`${base}/stream?after=${newest}`);
    source.onopen = () => cook.live("live", "open");
    source.onerror = () => { if (!ended) cook.live("reconnecting…", "error"); };
    source.addEventListener("session-event", (event) => {
      if (add(JSON.parse(event.data))) soon();
    });
    source.addEventListener("end", () => {
      ended = true;
      source.close();
      cook.live("finished", "ended");
      soon();
    });
  }

  async function start() {
    const last = Number(body.dataset.lastSeq || 0);
    const from = Math.max(0, last - 200);
    try {
      const page = await cook.json(`${base}/events?after=${from}&limit=200`);
      for (const entry of page.events) add(entry);
    } catch (error) {
      show(message, `events: ${error.message}`);
    }
    try { drawPlots((await cook.json(base)).info); } catch (error) { /* shown by refresh */ }
    follow();
  }
  start();
})();
