// `kiln keygen`: a new keypair appended to the keys file (src/auth/keygen.ts).

import { keygenCommand as keygen } from "../auth/keygen.ts";
import { text, type Args, type Command } from "./command.ts";

export const keygenCommand: Command = {
  name: "keygen",
  summary: "make a keypair (access key, secret key, token) and append it to the keys file, mode 0600",
  usage: "[--keys-file PATH]",
  options: [{ name: "keys-file", value: "PATH", env: "KILN_KEYS_FILE", help: "the keys file (default $XDG_CONFIG_HOME/kiln/keys.json or ~/.config/kiln/keys.json)" }],
  async run(args: Args) {
    const file = text(args, "keys-file");
    keygen(file !== undefined ? ["--keys-file", file] : [], process.env);
    return 0;
  },
};
