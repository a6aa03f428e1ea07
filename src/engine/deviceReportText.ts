// Diagnose Device's report as lines of text. Separate from deviceReport.ts (which loads onnxruntime) so
// the extension host can format the report without importing the native module.
import type { DeviceReport } from './protocol';

/** Human-readable lines (log, CLI, the Diagnose Device message). */
export function describeReport(report: DeviceReport): string[] {
  const lines: string[] = [];
  if (report.adapter) {
    lines.push(`adapter: ${report.adapter}`);
  }
  if (report.precision) {
    lines.push(`precision: ${report.precision}`);
  }
  for (const n of report.notes) {
    lines.push(`note: ${n}`);
  }
  const side = report.timings
    .map((t) => `${t.provider} ${t.ms !== undefined ? `${t.ms} ms` : 'n/a'}`)
    .join(' | ');
  lines.push(`one forward pass at ${report.windowLength} tokens: ${side}`);
  for (const t of report.timings) {
    const parts = [t.adapter, t.precision, t.note].filter((p) => p);
    if (parts.length > 0) {
      lines.push(`  ${t.provider}: ${parts.join(', ')}`);
    }
  }
  return lines;
}
