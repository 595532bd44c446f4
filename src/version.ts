// Kiln's own version, reported by GET / as "manager". Kept equal to package.json's by a test.
export const VERSION = "0.1.0";
