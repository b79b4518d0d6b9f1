// promptkit view: sorting and filtering the runs table, picking two runs to compare, live progress.
"use strict";

function sortTable(table, column, kind) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const ascending = table.dataset.sortColumn !== String(column) || table.dataset.sortOrder !== "asc";
  const value = (row) => {
    const cell = row.cells[column];
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (kind === "num") { const n = parseFloat(raw); return Number.isNaN(n) ? -Infinity : n; }
    return raw.toLowerCase();
  };
  rows.sort((a, b) => { const x = value(a), y = value(b); return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1); });
  rows.forEach((row) => body.appendChild(row));
  table.dataset.sortColumn = String(column);
  table.dataset.sortOrder = ascending ? "asc" : "desc";
}

function filterRuns() {
  const box = document.getElementById("runs-filter");
  const words = box ? box.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
  document.querySelectorAll("#runs-body tr").forEach((row) => {
    const text = row.textContent.toLowerCase();
    row.hidden = !words.every((word) => text.includes(word));
  });
}

// The runs picked for comparison, in the order they were picked: the first is the baseline (A).
let picked = [];

function updateCompareButton() {
  const button = document.getElementById("compare-selected");
  if (!button) return;
  const checked = new Set(Array.from(document.querySelectorAll("input.pick:checked")).map((box) => box.value));
  picked = picked.filter((key) => checked.has(key)).concat(Array.from(checked).filter((key) => !picked.includes(key)));
  button.disabled = picked.length !== 2;
  button.onclick = () => {
    const query = new URLSearchParams({ a: picked[0], b: picked[1] });
    window.location.href = "/compare?" + query.toString();
  };
}

async function refreshRuns(body) {
  // Live runs: the rows are re-rendered by the server every few seconds; selections and the filter are kept.
  const checked = new Set(picked);
  try {
    const response = await fetch(body.dataset.refresh);
    if (!response.ok) return;
    const html = await response.text();
    if (html === body.dataset.last) return;
    body.dataset.last = html;
    body.innerHTML = html;
    document.querySelectorAll("input.pick").forEach((box) => { box.checked = checked.has(box.value); });
    const table = body.closest("table");
    if (table.dataset.sortColumn) {
      const th = table.tHead.rows[0].cells[Number(table.dataset.sortColumn)];
      table.dataset.sortOrder = table.dataset.sortOrder === "asc" ? "desc" : "asc";  // sortTable flips it back
      sortTable(table, Number(table.dataset.sortColumn), th.dataset.sort);
    }
    filterRuns();
    updateCompareButton();
  } catch (error) {
    // the server stopped: keep what is shown
  }
}

async function followProgress(badge) {
  try {
    const response = await fetch(badge.dataset.progress);
    if (!response.ok) return;
    const state = await response.json();
    document.getElementById("run-rows").textContent = String(state.rows);
    badge.textContent = state.status;
    badge.className = "status " + state.status;
    if (state.status === "running") setTimeout(() => followProgress(badge), 2000);
    else window.location.reload();
  } catch (error) {
    // the server stopped: keep what is shown
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach((table) => {
    Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
      if (th.dataset.sort) th.addEventListener("click", () => sortTable(table, column, th.dataset.sort));
    });
  });
  const box = document.getElementById("runs-filter");
  if (box) box.addEventListener("input", filterRuns);
  document.addEventListener("change", (event) => { if (event.target.matches("input.pick")) updateCompareButton(); });
  updateCompareButton();
  const body = document.getElementById("runs-body");
  if (body) setInterval(() => refreshRuns(body), 3000);
  const badge = document.querySelector("[data-progress]");
  if (badge) setTimeout(() => followProgress(badge), 2000);
});
