// Truncated CFG: the step strip, drawn into a DOM element from its state (no app, no events: see truncated_cfg.js).
// One cell per sampling step, coloured by what the step was (the ledger's StepRecord.kind), a legend of the
// colours the run used, the current step framed while it runs, the Wan expert switch as a line, the model calls
// the network ran against what ComfyUI's own CFGGuider would have run, what the pack saved and a step cache
// cached, the wall time, what ended a run early, where the output stopped being finite, and after the run a
// chart of |cond - uncond| / |cond| on the full-CFG steps.

// One colour and legend label per kind of step (sampling/ledger.py: StepRecord.kind).
export const COLORS = {
  full: "#3d7fd6", refresh: "#8ec1ff", cfg1: "#7a8699", cond: "#e0912f", uncond: "#a155c9", reuse: "#2fb58f",
  cached: "#d87093", empty: "#3a3a3a",
};
const LEGEND = [
  ["full", "full CFG"], ["refresh", "refreshed"], ["cfg1", "cfg 1"], ["reuse", "reused guidance"],
  ["cond", "kept cond"], ["uncond", "kept uncond"], ["cached", "cached"],
];
const OUTCOME_COLORS = { interrupted: "#e8c547", failed: "#e5534b" };
const SWITCH_COLOR = "#f2d43d";
export const MIN_HEIGHT = 112;
const CHART_TIP = "|cond - uncond| / |cond| on each full-CFG step: how much guidance still changes the "
  + "prediction. Where the line flattens near its floor, later steps could be truncated too.";
const EMPTY_TEXT = "Truncated CFG: the step strip fills in when sampling runs";
const STATE_VERSION = 3;
const OUTCOMES = new Set(["running", "finished", "interrupted", "failed"]);
const MAX_STEPS = 100000;

function element(tag, style, text) {
  const el = document.createElement(tag);
  if (style) el.style.cssText = style;
  if (text !== undefined) el.textContent = text;
  return el;
}

function svgElement(tag, attributes) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}

// ``negativeModel``: the guider runs its negative branch on a second model (model_negative), whose calls the
// strip counts apart.
export function newState(steps, switchStep, promptId, negativeModel) {
  return {
    version: STATE_VERSION, promptId: promptId ?? null, steps, cells: new Array(steps).fill(null), current: -1,
    switchStep: switchStep ?? null, modelCalls: 0, modelCallsCached: 0, modelCallsCore: 0, modelCallsSaved: 0,
    negativeModel: Boolean(negativeModel), negativeCalls: 0, negativeCallsCore: 0, nothingToSkip: false,
    notFiniteFrom: null, seconds: null, relDiff: [], done: false, outcome: "running", message: "", lastStep: -1,
  };
}

// The state a finished (or stopped) run's ledger gives.
export function stateFromLedger(ledger, seconds, switchStep, promptId, outcome, message, negativeModel) {
  const ran = ledger.steps.filter((s) => s.sampler_calls > 0).map((s) => s.index);
  return {
    ...newState(ledger.steps.length, switchStep, promptId, negativeModel),
    negativeCalls: ledger.negative_calls, negativeCallsCore: ledger.negative_calls_core,
    cells: ledger.steps.map((s) => s.kind), modelCalls: ledger.model_calls, modelCallsCached: ledger.model_calls_cached,
    modelCallsCore: ledger.model_calls_core, modelCallsSaved: ledger.model_calls_saved,
    nothingToSkip: ledger.nothing_to_skip, notFiniteFrom: ledger.not_finite_from,
    seconds, done: true, outcome: outcome || "finished", message: message || "",
    relDiff: ledger.steps.filter((s) => s.full && s.relative_difference !== null)
      .map((s) => [s.index, s.relative_difference]),
    lastStep: ran.length ? ran[ran.length - 1] : -1,
  };
}

const isCount = (v) => Number.isInteger(v) && v >= -1;
const isStep = (v, steps) => Number.isInteger(v) && v >= -1 && v < Math.max(steps, 1);

// Whether a saved state (from a workflow file, perhaps an older pack's or edited by hand) can be drawn.
export function validState(s) {
  if (!s || typeof s !== "object" || s.version !== STATE_VERSION) return false;
  if (!Number.isInteger(s.steps) || s.steps < 0 || s.steps > MAX_STEPS) return false;
  if (!Array.isArray(s.cells) || s.cells.length !== s.steps) return false;
  if (!s.cells.every((c) => c === null || Object.hasOwn(COLORS, c))) return false;
  if (![s.modelCalls, s.modelCallsCached, s.modelCallsCore].every(isCount) || !isStep(s.current, s.steps)) return false;
  // A state saved by a pack before 2026-12 has no saved count nor the negative model's: drawn without them.
  if (![s.modelCallsSaved, s.negativeCalls, s.negativeCallsCore].every((v) => v === undefined || Number.isInteger(v))) {
    return false;
  }
  if (s.negativeModel !== undefined && typeof s.negativeModel !== "boolean") return false;
  if (typeof s.nothingToSkip !== "boolean" || (s.notFiniteFrom !== null && !isStep(s.notFiniteFrom, s.steps))) {
    return false;
  }
  if (!isStep(s.lastStep, s.steps) || !OUTCOMES.has(s.outcome) || typeof s.done !== "boolean") return false;
  if (s.switchStep !== null && !Number.isInteger(s.switchStep)) return false;
  if (s.seconds !== null && typeof s.seconds !== "number") return false;
  if (typeof s.message !== "string" || (s.promptId !== null && typeof s.promptId !== "string")) return false;
  return Array.isArray(s.relDiff) && s.relDiff.every((p) => Array.isArray(p) && p.length === 2
    && Number.isInteger(p[0]) && typeof p[1] === "number");
}

// The saved count is the ledger's (sampling/ledger.py, the one place it is worked out); here only its share.
export function statusText(state) {
  let text = `model calls ${state.modelCalls} / ${state.modelCallsCore}`;
  if (state.nothingToSkip) {
    text += " · cfg 1: no negative branch to skip";
  } else if (Number.isInteger(state.modelCallsSaved)) {
    const share = state.modelCallsCore ? 100 * state.modelCallsSaved / state.modelCallsCore : 0;
    text += ` · ${share.toFixed(1)}% saved`;
  }
  if (state.negativeModel) text += ` · negative model ${state.negativeCalls} / ${state.negativeCallsCore}`;
  if (state.modelCallsCached) text += ` · ${state.modelCallsCached} cached`;
  if (state.notFiniteFrom !== null) text += ` · not finite from step ${state.notFiniteFrom + 1}`;
  if (state.seconds) text += ` · ${state.seconds.toFixed(1)} s`;
  if (state.outcome === "interrupted" || state.outcome === "failed") {
    const where = state.lastStep >= 0 ? ` at step ${state.lastStep + 1} of ${state.steps}` : " before sampling";
    text = `${state.outcome}${where} · ${text}`;
  }
  return text;
}

function cellsRow(state) {
  const row = element("div", "position:relative;display:flex;gap:1px;height:14px;margin-top:4px");
  row.className = "tcfg-cells";
  state.cells.forEach((kind, i) => {
    const cell = element("div", `flex:1 1 0;min-width:1px;background:${COLORS[kind || "empty"]}`);
    cell.className = "tcfg-cell";
    cell.dataset.kind = kind || "empty";
    if (i === state.current && !state.done) cell.style.outline = "1.5px solid #fff";
    row.appendChild(cell);
  });
  if (state.switchStep !== null && state.switchStep >= 0 && state.switchStep < state.steps) {
    const line = element("div", `position:absolute;top:-3px;bottom:-3px;width:2px;background:${SWITCH_COLOR};`
      + `left:calc(${(100 * state.switchStep) / Math.max(state.steps, 1)}% - 1px)`);
    line.className = "tcfg-switch";
    line.title = "the Wan expert switch: the low-noise expert from here";
    row.appendChild(line);
  }
  return row;
}

function legend(state) {
  const present = new Set(state.cells.filter((c) => c));
  const row = element("div", "display:flex;flex-wrap:wrap;gap:2px 10px;font-size:10px;color:#aaa;margin-top:3px");
  row.className = "tcfg-legend";
  for (const [kind, label] of LEGEND) {
    if (!present.has(kind)) continue;
    const item = element("span", "display:inline-flex;align-items:center;gap:3px");
    item.appendChild(element("span", `display:inline-block;width:9px;height:9px;background:${COLORS[kind]}`));
    item.appendChild(document.createTextNode(label));
    row.appendChild(item);
  }
  return row;
}

function chart(state) {
  const max = Math.max(...state.relDiff.map((p) => p[1]), 1e-6);
  const width = 100;
  const height = 40;
  const x = (step) => ((step + 0.5) / Math.max(state.steps, 1)) * width;
  const y = (value) => height - 2 - (value / max) * (height - 6);
  const box = element("div", "position:relative;margin-top:4px;border:1px solid #555;height:42px");
  box.className = "tcfg-chart";
  box.title = CHART_TIP;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
    style: "width:100%;height:100%;display:block" });
  const points = state.relDiff.map(([step, value]) => `${x(step).toFixed(2)},${y(value).toFixed(2)}`).join(" ");
  svg.appendChild(svgElement("polyline", { points, fill: "none", stroke: COLORS.full, "stroke-width": 1.5,
    "vector-effect": "non-scaling-stroke" }));
  box.appendChild(svg);
  box.appendChild(element("div", "position:absolute;right:4px;bottom:1px;font-size:10px;color:#888",
    `|c−u|/|c| ≤ ${max.toFixed(3)}`));
  return box;
}

// Draws ``state`` (or the empty strip for null) into ``root``, replacing what was there.
export function render(root, state) {
  root.replaceChildren();
  root.style.cssText = `box-sizing:border-box;min-height:${MIN_HEIGHT}px;padding:2px 6px;font:11px sans-serif;`
    + "color:#ddd;overflow:hidden";
  if (!state) {
    root.appendChild(element("div", "color:#888;padding-top:10px", EMPTY_TEXT));
    return;
  }
  root.appendChild(cellsRow(state));
  const status = element("div", `margin-top:4px;color:${OUTCOME_COLORS[state.outcome] || "#ddd"}`, statusText(state));
  status.className = "tcfg-status";
  if (state.message) status.title = state.message;
  root.appendChild(status);
  root.appendChild(legend(state));
  if (state.done && state.relDiff.length > 0) root.appendChild(chart(state));
}
