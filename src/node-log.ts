// Node only: a batched stdout writer for the JSON log lines (the format and the secret masking stay
// in src/logger.ts). One write per event-loop turn instead of one per line: under load, hundreds of
// access-log lines leave in one syscall. Pipes and files on Linux are written synchronously, so
// flush() on exit loses nothing.

export interface LineSink {
  write(line: string): void;
  flush(): void;
}

export function bufferedLines(out: { write(s: string): unknown } = process.stdout, maxBytes = 64 * 1024): LineSink {
  let lines: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const chunk = `${lines.join('\n')}\n`;
    lines = [];
    bytes = 0;
    out.write(chunk);
  };
  return {
    write(line) {
      lines.push(line);
      bytes += line.length;
      if (bytes >= maxBytes) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
