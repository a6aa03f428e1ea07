// Denoising visualiser webview. Receives the followed request's snapshots from the extension
// (src/vscode/visualiser.ts) and draws one cell per canvas token: masked, committed (colour = its
// confidence, small number = the step it was committed at), re-masked before, end/pad. Once the
// request has finished the slider replays the refinement step by step from the snapshots' events.
// No network and no inline code (CSP): everything here comes from this file and visualiser.css.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const cells = document.getElementById('cells');
  const requestEl = document.getElementById('request');
  const progressEl = document.getElementById('progress');
  const noticeEl = document.getElementById('notice');
  const slider = document.getElementById('step');
  const stepLabel = document.getElementById('step-label');

  /** The followed request: its snapshots in order and every trace event, accumulated. */
  let current = { id: 0, snapshots: [], events: [], finished: false, state: '' };

  function bucket(confidence) {
    return Math.max(0, Math.min(4, Math.floor(confidence * 5)));
  }

  function visible(piece) {
    if (piece === '') {
      return '∅';
    }
    return piece.replace(/\n/g, '⏎').replace(/\t/g, '→').replace(/ /g, '·');
  }

  /** Per-position state after `step`, rebuilt from the events (the replay). */
  function stateAt(step) {
    const last = current.snapshots[current.snapshots.length - 1];
    const n = last && last.trace ? last.trace.pieces.length : 0;
    const s = {
      pieces: new Array(n).fill(null),
      confidence: new Array(n).fill(null),
      commitStep: new Array(n).fill(null),
      remasks: new Array(n).fill(0),
      ends: new Array(n).fill(false),
    };
    for (const e of current.events) {
      if (e.step > step) {
        break;
      }
      if (e.kind === 'commit') {
        s.pieces[e.index] = e.piece;
        s.confidence[e.index] = e.confidence;
        s.commitStep[e.index] = e.step;
        s.ends[e.index] = !!e.end;
      } else {
        s.pieces[e.index] = null;
        s.confidence[e.index] = null;
        s.commitStep[e.index] = null;
        s.remasks[e.index]++;
      }
    }
    return s;
  }

  function draw(trace, step) {
    const n = trace.pieces.length;
    while (cells.children.length > n) {
      cells.lastChild.remove();
    }
    while (cells.children.length < n) {
      const cell = document.createElement('span');
      cell.setAttribute('role', 'listitem');
      const text = document.createElement('span');
      text.className = 'piece';
      const sub = document.createElement('sub');
      cell.append(text, sub);
      cells.append(cell);
    }
    for (let i = 0; i < n; i++) {
      const cell = cells.children[i];
      const piece = trace.pieces[i];
      const classes = ['cell'];
      let title = `#${i}`;
      if (piece === null) {
        classes.push('masked');
        cell.firstChild.textContent = '░';
        cell.lastChild.textContent = '';
        title += ' masked';
      } else {
        const c = trace.confidence[i];
        classes.push('committed', `c${bucket(c == null ? 1 : c)}`);
        if (trace.ends[i]) {
          classes.push('end');
        }
        cell.firstChild.textContent = trace.ends[i] ? 'end' : visible(piece);
        cell.lastChild.textContent = String(trace.commitStep[i]);
        title += ` ${JSON.stringify(piece)} committed at step ${trace.commitStep[i]}, confidence ${(c == null ? 1 : c).toFixed(3)}`;
      }
      if (trace.remasks[i] > 0) {
        classes.push('remasked');
        title += `, re-masked ${trace.remasks[i]}×`;
      }
      if (trace.commitStep[i] !== null && trace.commitStep[i] === step) {
        classes.push('latest');
      }
      cell.className = classes.join(' ');
      cell.title = title;
      cell.dataset.index = String(i);
    }
  }

  function showLive() {
    const last = current.snapshots[current.snapshots.length - 1];
    if (!last) {
      cells.replaceChildren();
      progressEl.textContent = 'waiting for the first step…';
      return;
    }
    progressEl.textContent = `step ${last.step} · ${last.masksLeft} masked of ${last.canvasLength} · ${last.nfe} passes · ${last.elapsedMs} ms`;
    if (!last.trace) {
      noticeEl.hidden = false;
      noticeEl.textContent =
        'This request started before the visualiser was open, so it carries no per-token trace. The next request is traced.';
      cells.replaceChildren();
      return;
    }
    if (last.trace.tracedFrom) {
      noticeEl.hidden = false;
      noticeEl.textContent = `The visualiser opened at step ${last.trace.tracedFrom} of this request: tokens committed before are shown as committed at that step.`;
    } else {
      noticeEl.hidden = true;
    }
    draw(last.trace, last.step);
  }

  function enableReplay() {
    const last = current.snapshots[current.snapshots.length - 1];
    if (!last || !last.trace) {
      slider.disabled = true;
      return;
    }
    slider.min = String(last.trace.tracedFrom || 0);
    slider.max = String(last.step);
    slider.value = String(last.step);
    slider.disabled = false;
    stepLabel.textContent = `${last.step} / ${last.step}`;
  }

  slider.addEventListener('input', () => {
    const step = Number(slider.value);
    const last = current.snapshots[current.snapshots.length - 1];
    stepLabel.textContent = `${step} / ${last ? last.step : 0}`;
    draw(stateAt(step), step);
  });

  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || typeof m.type !== 'string') {
      return;
    }
    if (m.type === 'request') {
      current = { id: m.id, snapshots: [], events: [], finished: false, state: 'running' };
      requestEl.textContent = `#${m.id} ${m.kind}: ${m.description}`;
      slider.disabled = true;
      stepLabel.textContent = '–';
      noticeEl.hidden = true;
      showLive();
    } else if (m.type === 'snapshots' && m.id === current.id) {
      for (const s of m.snapshots) {
        current.snapshots.push(s);
        if (s.trace) {
          current.events.push(...s.trace.events);
        }
      }
      if (!current.finished) {
        showLive();
      }
    } else if (m.type === 'state' && m.id === current.id) {
      current.state = m.state;
      document.body.dataset.state = m.state;
      if (m.finished && !current.finished) {
        current.finished = true;
        showLive();
        enableReplay();
      }
    }
  });

  vscode.postMessage({ type: 'ready' });
})();
