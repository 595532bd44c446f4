// The same small programs in every podman language: hello world with Unicode, a stdin
// echo, a multi-file project for the default build, a build error, a crash, and a
// program writing out.bin with pattern(OUTPUT_BYTES) (see podman-env.ts).

export const HELLO = "Hello, wörld! ✓ 你好 🚀";
export const OUTPUT_BYTES = 4096;

export interface Programs {
  hello: Record<string, string>;
  /** Prints "name? ", reads a line, prints "echo: <line>". */
  echo: Record<string, string>;
  /** A project of several files in subdirectories; prints "42 42". */
  multiFile: Record<string, string>;
  /** A project built by its Makefile (default build runs make); prints "made by make". */
  makefile?: Record<string, string>;
  /** Fails at build time. */
  buildError: Record<string, string>;
  /** Dies at run time; `signal` is the expected exit code when it is a signal. */
  crash: { files: Record<string, string>; exitCode?: number; stderr?: RegExp };
  /** Writes out.bin. */
  output: Record<string, string>;
}

const C_MAKEFILE = {
  Makefile: "main: prog.c\n\t$(CC) -O2 -o main prog.c\n\nclean:\n\trm -f main stale.txt\n",
  "prog.c": '#include <stdio.h>\nint main(void) { puts("made by make"); return 0; }\n',
};

export const PROGRAMS: Record<string, Programs> = {
  c: {
    hello: { "main.c": `#include <stdio.h>\nint main(void) { printf("${HELLO}\\n"); return 0; }\n` },
    echo: {
      "main.c":
        '#include <stdio.h>\nint main(void) {\n  char line[256];\n  printf("name? ");\n  fflush(stdout);\n' +
        '  if (!fgets(line, sizeof line, stdin)) return 1;\n  printf("echo: %s", line);\n  return 0;\n}\n',
    },
    multiFile: {
      "main.c": '#include <stdio.h>\n#include <math.h>\n#include "lib/util.h"\nint main(void) { printf("%d %.0f\\n", triple(14), sqrt(1764.0)); return 0; }\n',
      "lib/util.h": "int triple(int x);\n",
      "lib/util.c": '#include "util.h"\nint triple(int x) { return 3 * x; }\n',
    },
    makefile: C_MAKEFILE,
    buildError: { "main.c": "int main(void) { return undefined_name; }\n" },
    crash: { files: { "main.c": "int main(void) { volatile int *p = 0; *p = 42; return 0; }\n" }, exitCode: 139 },
    output: {
      "main.c":
        '#include <stdio.h>\nint main(void) {\n  FILE *f = fopen("out.bin", "wb");\n' +
        "  for (int i = 0; i < 4096; i++) fputc((i * 31 + 7) & 255, f);\n  return fclose(f) != 0;\n}\n",
    },
  },
  cpp: {
    hello: { "main.cpp": `#include <iostream>\nint main() { std::cout << "${HELLO}" << std::endl; }\n` },
    echo: {
      "main.cpp":
        '#include <iostream>\n#include <string>\nint main() {\n  std::string line;\n  std::cout << "name? " << std::flush;\n' +
        '  std::getline(std::cin, line);\n  std::cout << "echo: " << line << std::endl;\n}\n',
    },
    multiFile: {
      "main.cpp": '#include <iostream>\n#include <cmath>\n#include "src/util.hpp"\nint main() { std::cout << util::triple(14) << " " << std::sqrt(1764.0) << std::endl; }\n',
      "src/util.hpp": "namespace util { int triple(int x); }\n",
      "src/util.cc": '#include "util.hpp"\nint util::triple(int x) { return 3 * x; }\n',
    },
    makefile: {
      Makefile: "main: prog.cpp\n\t$(CXX) -O2 -o main prog.cpp\n\nclean:\n\trm -f main stale.txt\n",
      "prog.cpp": '#include <iostream>\nint main() { std::cout << "made by make" << std::endl; }\n',
    },
    buildError: { "main.cpp": "int main() { return undefined_name; }\n" },
    crash: { files: { "main.cpp": "#include <cstdlib>\nint main() { std::abort(); }\n" }, exitCode: 134 },
    output: {
      "main.cpp":
        '#include <fstream>\nint main() {\n  std::ofstream f("out.bin", std::ios::binary);\n' +
        "  for (int i = 0; i < 4096; i++) f.put(static_cast<char>((i * 31 + 7) & 255));\n}\n",
    },
  },
  python: {
    hello: { "main.py": `print("${HELLO}")\n` },
    echo: { "main.py": 'line = input("name? ")\nprint("echo:", line)\n' },
    multiFile: {
      "main.py": "from pkg.util import triple\nimport helper\nprint(triple(14), helper.answer())\n",
      "pkg/__init__.py": "",
      "pkg/util.py": "def triple(x):\n    return 3 * x\n",
      "helper.py": "def answer():\n    return 42\n",
    },
    makefile: {
      Makefile: "gen.py:\n\techo 'MESSAGE = \"made by make\"' > gen.py\n",
      "main.py": "import gen\nprint(gen.MESSAGE)\n",
    },
    buildError: { Makefile: "all:\n\t@echo 'cannot build this' >&2; exit 2\n", "main.py": "print('never')\n" },
    crash: { files: { "main.py": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n" }, exitCode: 139 },
    output: { "main.py": "with open('out.bin', 'wb') as f:\n    f.write(bytes((i * 31 + 7) & 255 for i in range(4096)))\n" },
  },
  go: {
    hello: { "main.go": `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("${HELLO}") }\n` },
    echo: {
      "main.go":
        'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Print("name? ")\n' +
        '\tline, _ := bufio.NewReader(os.Stdin).ReadString(\'\\n\')\n\tfmt.Print("echo: " + line)\n}\n',
    },
    multiFile: {
      "go.mod": "module kiln.test/app\n\ngo 1.19\n",
      "main.go": 'package main\n\nimport (\n\t"fmt"\n\t"math"\n\n\t"kiln.test/app/util"\n)\n\nfunc main() { fmt.Println(util.Triple(14), math.Sqrt(1764)) }\n',
      "util/util.go": "package util\n\nfunc Triple(x int) int { return 3 * x }\n",
    },
    buildError: { "main.go": "package main\n\nfunc main() { undefinedThing() }\n" },
    crash: { files: { "main.go": "package main\n\nfunc main() {\n\tvar p *int\n\t*p = 1\n}\n" }, stderr: /nil pointer dereference/ },
    output: {
      "main.go":
        'package main\n\nimport "os"\n\nfunc main() {\n\tb := make([]byte, 4096)\n\tfor i := range b {\n\t\tb[i] = byte((i*31 + 7) & 255)\n\t}\n' +
        '\tif err := os.WriteFile("out.bin", b, 0o644); err != nil {\n\t\tpanic(err)\n\t}\n}\n',
    },
  },
  rust: {
    hello: { "main.rs": `fn main() { println!("${HELLO}"); }\n` },
    echo: {
      "main.rs":
        'use std::io::{self, Write};\nfn main() {\n    print!("name? ");\n    io::stdout().flush().unwrap();\n' +
        '    let mut line = String::new();\n    io::stdin().read_line(&mut line).unwrap();\n    print!("echo: {}", line);\n}\n',
    },
    multiFile: {
      "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n',
      "src/main.rs": 'mod util;\nfn main() { println!("{} {}", util::triple(14), (1764f64).sqrt()); }\n',
      "src/util.rs": "pub fn triple(x: i32) -> i32 { 3 * x }\n",
    },
    buildError: { "main.rs": 'fn main() { let x: i32 = "not a number"; }\n' },
    crash: { files: { "main.rs": "fn main() { std::process::abort(); }\n" }, exitCode: 134 },
    output: {
      "main.rs": "fn main() {\n    let b: Vec<u8> = (0..4096u32).map(|i| ((i * 31 + 7) & 255) as u8).collect();\n    std::fs::write(\"out.bin\", b).unwrap();\n}\n",
    },
  },
  java: {
    hello: { "Main.java": `public class Main {\n  public static void main(String[] args) { System.out.println("${HELLO}"); }\n}\n` },
    echo: {
      "Main.java":
        "import java.io.*;\npublic class Main {\n  public static void main(String[] args) throws IOException {\n" +
        '    System.out.print("name? ");\n    System.out.flush();\n' +
        "    String line = new BufferedReader(new InputStreamReader(System.in)).readLine();\n" +
        '    System.out.println("echo: " + line);\n  }\n}\n',
    },
    multiFile: {
      "main/Main.java":
        "package main;\nimport util.Util;\npublic class Main {\n" +
        '  public static void main(String[] args) { System.out.println(Util.triple(14) + " " + (int) Math.sqrt(1764)); }\n}\n',
      "util/Util.java": "package util;\npublic class Util {\n  public static int triple(int x) { return 3 * x; }\n}\n",
    },
    buildError: { "Main.java": "public class Main {\n  public static void main(String[] args) { int x = \"no\"; }\n}\n" },
    crash: {
      files: { "Main.java": 'public class Main {\n  public static void main(String[] args) { throw new IllegalStateException("boom"); }\n}\n' },
      stderr: /IllegalStateException: boom/,
    },
    output: {
      "Main.java":
        "import java.nio.file.*;\npublic class Main {\n  public static void main(String[] args) throws Exception {\n" +
        "    byte[] b = new byte[4096];\n    for (int i = 0; i < b.length; i++) b[i] = (byte) ((i * 31 + 7) & 255);\n" +
        '    Files.write(Path.of("out.bin"), b);\n  }\n}\n',
    },
  },
  bash: {
    hello: { "main.sh": `echo "${HELLO}"\n` },
    echo: { "main.sh": 'printf "name? "\nread -r line\necho "echo: $line"\n' },
    multiFile: {
      "main.sh": 'source lib/util.sh\necho "$(triple 14) $(answer)"\n',
      "lib/util.sh": 'triple() { echo $(( $1 * 3 )); }\nanswer() { cat data/answer.txt; }\n',
      "data/answer.txt": "42\n",
    },
    makefile: { Makefile: "message.txt:\n\techo 'made by make' > message.txt\n", "main.sh": "cat message.txt\n" },
    buildError: { Makefile: "all:\n\t@echo 'cannot build this' >&2; exit 2\n", "main.sh": "echo never\n" },
    crash: { files: { "main.sh": "kill -SEGV $$\n" }, exitCode: 139 },
    output: {
      "main.sh": "for ((i = 0; i < 4096; i++)); do\n  printf -v byte '\\\\%03o' $(( (i * 31 + 7) & 255 ))\n  printf \"$byte\"\ndone > out.bin\n",
    },
  },
};
