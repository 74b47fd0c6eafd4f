// The sessions page: the table follows the store's change feed (/api/stream).
"use strict";
(() => {
  const rows = document.getElementById("rows");
  const count = document.getElementById("count");
  const pager = document.getElementById("pager");
  let fetchedAt = Date.now();

  function query() {
    const params = new URLSearchParams(window.location.search);
    params.delete("token");
    return params;
  }

  function mode(row) { return row.worktree ? `worktree ${row.worktree}` : row.mode; }

  function render(page) {
    fetchedAt = Date.now();
    rows.replaceChildren();
    if (!page.sessions.length) {
      const tr = cook.el("tr", {class: "empty"});
      tr.append(cook.el("td", {colspan: "8"}, "no sessions"));
      rows.append(tr);
    }
    for (const row of page.sessions) {
      const tr = cook.el("tr", {"data-id": row.id, class: `status-${row.status}`});
      const id = cook.el("td", {class: "id"});
      id.append(cook.el("a", {href: `/sessions/${encodeURIComponent(row.id)}`, title: row.id}, row.id.slice(-8)));
      const status = cook.el("td", {class: "status"});
      status.append(cook.el("span", {class: `pill ${row.status}`}, row.status));
      tr.append(
        id,
        cook.el("td", {class: "workflow"}, row.workflow || "-"),
        status,
        cook.el("td", {class: "iteration"}, `${row.iterations_completed}/${row.total_iterations}`),
        cook.el("td", {class: "mode"}, mode(row)),
        cook.el("td", {class: "started"}, cook.time(row.started_at)),
        cook.el("td", {class: "duration", "data-seconds": row.duration_seconds,
                       "data-running": row.status === "running" ? "1" : null},
                cook.duration(row.duration_seconds)),
        cook.el("td", {class: "outcome"}, row.outcome),
      );
      rows.append(tr);
    }
    const plural = page.total === 1 ? "" : "s";
    count.textContent = `${page.total} session${plural}, page ${page.page} of ${page.pages}`;
    pager.dataset.page = page.page;
    pager.dataset.pages = page.pages;
    pager.replaceChildren();
    if (page.page > 1) pager.append(cook.el("a", {href: "#", "data-to": page.page - 1, rel: "prev"}, "newer"));
    pager.append(cook.el("span", {}, `page ${page.page} of ${page.pages}`));
    if (page.page < page.pages) pager.append(cook.el("a", {href: "#", "data-to": page.page + 1, rel: "next"}, "older"));
  }

  async function refresh() {
    try {
      render(await cook.json(`/api/sessions?${query()}`));
    } catch (error) {
      count.textContent = `could not refresh: ${error.message}`;
    }
  }
  const soon = cook.throttle(refresh, 300);

  pager.addEventListener("click", (event) => {
    const to = event.target.closest("a[data-to]");
    if (!to) return;
    event.preventDefault();
    const params = query();
    params.set("page", to.dataset.to);
    window.location.search = params.toString();
  });

  // live durations of running sessions
  setInterval(() => {
    for (const cell of rows.querySelectorAll("td.duration[data-running]")) {
      const seconds = Number(cell.dataset.seconds) + (Date.now() - fetchedAt) / 1000;
      cell.textContent = cook.duration(seconds);
    }
  }, 1000);

  const source = new EventSource("/api/stream");
  source.onopen = () => { cook.live("live", "open"); soon(); };
  source.onerror = () => cook.live("reconnecting…", "error");
  source.addEventListener("change", soon);
  for (const cell of rows.querySelectorAll("td.duration")) {
    cell.textContent = cook.duration(Number(cell.dataset.seconds));
  }
})();
