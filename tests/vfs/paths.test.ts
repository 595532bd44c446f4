import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { baseName, joinPath, parentPath, PathError, toSessionPath, toWorkPath, WORK_DIR } from "../../src/vfs/paths.ts";

describe("toSessionPath", () => {
  it("names the root in every spelling", () => {
    for (const root of ["", ".", "./", "/home/work", "/home/work/", "/home/work/.", "a/.."]) {
      assert.equal(toSessionPath(root), "", JSON.stringify(root));
    }
  });

  it("normalises relative and absolute paths", () => {
    assert.equal(toSessionPath("a/b.txt"), "a/b.txt");
    assert.equal(toSessionPath("./a//b/./c/"), "a/b/c");
    assert.equal(toSessionPath("/home/work/a/b"), "a/b");
    assert.equal(toSessionPath("a/x/../b"), "a/b");
    assert.equal(toSessionPath("home/work/x"), "home/work/x");
  });

  it("keeps odd but harmless names literally", () => {
    assert.equal(toSessionPath("%2e%2e/x"), "%2e%2e/x");
    assert.equal(toSessionPath("..."), "...");
    assert.equal(toSessionPath(".hidden"), ".hidden");
    assert.equal(toSessionPath("naïve/日本語 file"), "naïve/日本語 file");
    assert.equal(toSessionPath("emoji 😀"), "emoji 😀");
  });

  it("refuses escapes from the work directory", () => {
    for (const bad of ["..", "../x", "a/../../x", "/home/work/..", "/home/work/a/../../etc", "/etc/passwd", "/home/workx", "/home", "/"]) {
      assert.throws(() => toSessionPath(bad), PathError, JSON.stringify(bad));
    }
  });

  it("refuses control characters, backslashes and lone surrogates", () => {
    for (const bad of ["a\0b", "a\nb", "tab\there", "del\u007f", "c1\u0085", "csi\u009b", "a\\b", "..\\x", "lone\ud800", "low\udc00x"]) {
      assert.throws(() => toSessionPath(bad), PathError, JSON.stringify(bad));
    }
  });

  it("refuses names that normalise to dots or separators", () => {
    for (const bad of ["\uff0e\uff0e/x", "\u2025", "\uff0e", "a\uff0fb", "a\uff3cb"]) {
      assert.throws(() => toSessionPath(bad), PathError, JSON.stringify(bad));
    }
  });

  it("refuses paths and names that are too long", () => {
    assert.equal(toSessionPath("n".repeat(255)), "n".repeat(255));
    assert.throws(() => toSessionPath("n".repeat(256)), PathError);
    assert.throws(() => toSessionPath("é".repeat(128)), PathError); // 256 bytes
    assert.throws(() => toSessionPath("a/".repeat(2049)), PathError);
  });

  it("refuses what is not a string", () => {
    assert.throws(() => toSessionPath(42 as unknown as string), PathError);
  });
});

describe("path helpers", () => {
  it("toWorkPath", () => {
    assert.equal(WORK_DIR, "/home/work");
    assert.equal(toWorkPath(""), "/home/work");
    assert.equal(toWorkPath("a/b"), "/home/work/a/b");
  });

  it("baseName", () => {
    assert.equal(baseName(""), "work");
    assert.equal(baseName("a"), "a");
    assert.equal(baseName("a/b/c.txt"), "c.txt");
  });

  it("parentPath", () => {
    assert.equal(parentPath(""), "");
    assert.equal(parentPath("a"), "");
    assert.equal(parentPath("a/b/c"), "a/b");
  });

  it("joinPath", () => {
    assert.equal(joinPath("", "a"), "a");
    assert.equal(joinPath("a/b", "c"), "a/b/c");
  });
});
