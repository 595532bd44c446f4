// A file's content stream whose first chunk has already been read: a file that cannot be
// read (a FIFO, a socket or a device that a session's program made, which the disk Vfs
// lists as a file but refuses to open) fails before any byte of an answer or an archive
// entry has been promised for it, instead of breaking a 200 midway.

import { VfsError, type Vfs } from "../vfs/vfs.ts";

/** The file's content, or null when it is not a regular file. Other errors are thrown. */
export async function primedRead(vfs: Vfs, path: string): Promise<ReadableStream<Uint8Array> | null> {
  const reader = vfs.openRead(path).getReader();
  let pending: Awaited<ReturnType<typeof reader.read>> | undefined;
  try {
    pending = await reader.read();
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    if (error instanceof VfsError && error.code === "EINVAL") return null;
    throw error;
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = pending ?? (await reader.read());
        pending = undefined;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
