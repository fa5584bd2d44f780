// The capture summary as people read it: next to the .pcap file, and in the check's facts.
import { formatElapsed } from '../../core/duration.js';
import { plural } from '../../core/text.js';
import { endpoint, type ConversationStat } from './conversations.js';
import type { PcapSummary } from './log-scanner.js';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatConversation(c: ConversationStat): string {
  return `${endpoint(c.src, c.srcPort)} → ${endpoint(c.dst, c.dstPort)} ${c.proto}`;
}

/** The short text summary that goes with the .pcap file. Pure. */
export function renderCaptureSummary(summary: PcapSummary): string {
  const lines: string[] = [];
  if (!summary.found) return 'No pcap data in the output (tcpdump did not start writing).';
  const link = summary.linkTypeName ? ` · link type ${summary.linkTypeName}` : '';
  lines.push(
    `${plural(summary.packets, 'packet')} (${formatBytes(summary.wireBytes)} on the wire) over ${formatElapsed(summary.durationMs)}${link} · pcap file ${formatBytes(summary.fileBytes)}`,
  );
  const protocols = Object.entries(summary.protocols).sort((a, b) => b[1] - a[1]);
  if (protocols.length > 0) lines.push(`Protocols: ${protocols.map(([p, n]) => `${p} ${n.toLocaleString('en-US')}`).join(', ')}`);
  if (summary.conversations.length > 0) {
    const shown = summary.conversations.length;
    const more = summary.conversationCount > shown ? ` (top ${shown} of ${summary.approximate ? 'about ' : ''}${summary.conversationCount.toLocaleString('en-US')})` : '';
    lines.push(`Top conversations${more}:`);
    for (const c of summary.conversations) lines.push(`• ${formatConversation(c)}: ${plural(c.packets, 'packet')}, ${formatBytes(c.bytes)}`);
  }
  if (summary.ports.length > 0) {
    lines.push('Top destination ports:');
    for (const p of summary.ports) lines.push(`• ${p.port}/${p.proto}: ${plural(p.packets, 'packet')}, ${formatBytes(p.bytes)}`);
  }
  if (summary.capped) lines.push(`Stopped at the ${formatBytes(summary.maxBytes)} size limit.`);
  if (summary.droppedTrailingBytes > 0) lines.push(`The last packet was cut short (${formatBytes(summary.droppedTrailingBytes)}) and left out of the file.`);
  if (!summary.complete) lines.push('The output ended before the capture did (the container stopped early); the file holds what arrived.');
  if (summary.approximate) lines.push('Counts are approximate: too many conversations to track them all.');
  if (summary.error) lines.push(`Problem with the data: ${summary.error}.`);
  return lines.join('\n');
}
