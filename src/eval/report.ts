// Reports: the machine line, JSON documents and markdown tables, and the BENCHMARKS.md sections this
// harness owns (replaced in place, everything else in the file left as it is).
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Summary } from './evaluate';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gib: number;
  os: string;
  node: string;
  onnxruntime?: string;
  gpu: string;
  load_average?: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  let ort: string | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ort = (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    ort = undefined;
  }
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: ort,
    gpu: 'none used (CPU execution provider)',
    load_average: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os}, Node ${m.node}${m.onnxruntime ? `, onnxruntime-node ${m.onnxruntime}` : ''}; load average at start ${m.load_average?.join(' ') ?? '?'}`;
}

export function pct(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '-' : `${(100 * v).toFixed(1)}`;
}

export function fixed(v: number | undefined, digits = 2): string {
  return v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
}

/** A markdown table from a header and rows of cells. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

export const SUMMARY_HEADER = [
  'run',
  'n',
  'pass@1 %',
  'exact %',
  'edit sim',
  'NFE / task',
  'NFE / token',
  'latency p50 ms',
  'latency p90 ms',
];

export function summaryRow(label: string, s: Summary): string[] {
  return [
    label,
    String(s.n),
    pct(s.pass_at_1),
    pct(s.exact_match),
    fixed(s.edit_similarity, 3),
    fixed(s.nfe_mean, 1),
    fixed(s.nfe_per_token, 3),
    fixed(s.latency_ms.median, 0),
    fixed(s.latency_ms.p90, 0),
  ];
}

/**
 * Replaces the body of `## heading` in a markdown file (up to the next `## ` heading) or appends the
 * section; creates the file when missing. Other sections are left byte for byte.
 */
export function writeSection(file: string, heading: string, body: string): void {
  const title = `## ${heading}`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === title);
  const section = [title, '', ...body.trimEnd().split('\n'), ''];
  let out: string[];
  if (start < 0) {
    out = [...lines];
    while (out.length > 0 && out[out.length - 1] === '') {
      out.pop();
    }
    out.push('', ...section);
  } else {
    let end = start + 1;
    while (end < lines.length && !/^## /.test(lines[end])) {
      end++;
    }
    out = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  }
  let result = out.join('\n');
  if (!result.endsWith('\n')) {
    result += '\n';
  }
  fs.writeFileSync(file, result);
}
