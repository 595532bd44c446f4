/*
 * kiln-runner: PID 1 of a Kiln session container.
 *
 * The Kiln server starts one container per session and talks to this runner over a
 * unix socket in a host directory bind-mounted at /run/kiln, instead of paying for a
 * `podman exec` (~300 ms) per step. The runner spawns each step in /home/work (a
 * command of plain words exec'd directly, anything else as `bash -c -- CMD`), streams
 * its stdout and stderr back as they come, tells the host when the program blocks
 * reading its stdin, writes the host's input into that pipe, and reports the exit
 * status (signal n -> 128+n), whether the memory cgroup OOM-killed something, and the
 * step's peak RSS.
 *
 * Why PID 1 and not a helper beside the user's processes: everything in the container
 * runs as uid 1000, runner included (the container has no capabilities). A pid
 * namespace's init cannot be killed from inside it (signals without a handler are
 * dropped), kill(-1) skips it, and PR_SET_DUMPABLE=0 keeps same-uid processes from
 * ptracing it or opening /proc/1/fd. So kill(-1, SIGKILL) ends every process of a
 * step, forked orphans and fork bombs included (kill(-1) is atomic against fork),
 * and the runner survives. The runner refuses to run unless it is PID 1, since
 * kill(-1) outside a fresh pid namespace would hit far more than a session.
 *
 * Query mode for interpreters with state (Python) uses a long-lived REPL child that
 * survives between steps: it gets code on fd 3 and answers "done" / "wants input"
 * there; its stdout and stderr are relayed like a step's.
 *
 * Wire format, both directions: type (1 byte), payload length (u32 big-endian), payload.
 *   host -> runner
 *     'X' exec   kind u8 (0 shell, 1 repl) | output cap u32 (bytes per stream, 0 none)
 *                | count u32 | count x (length u32 | bytes)
 *                shell fields: command, then "KEY=VALUE" environment entries
 *                repl fields:  code, interpreter argv joined by NUL, then environment
 *     'I' input  bytes for the program's stdin (or the REPL's pending input request)
 *     'K' kill   stop the current step
 *   runner -> host
 *     'H' hello  "kiln-runner/1"
 *     'O' / 'E'  stdout / stderr bytes of the current step
 *     'W' wait   password u8: the program waits for input
 *     'Z' exit   code i32 | flags u8 (1 OOM kill seen, 2 killed on request) | peak RSS KiB u32
 * When the host closes the socket (it stopped, or the session ended) the runner kills
 * everything and exits, so the container goes away with its server.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL "kiln-runner/1"
#define WORKDIR "/home/work"
#define MAX_FRAME (64u << 20)
/* Program output waiting for the host beyond this: stop reading the program's pipes. */
#define OUT_HIGH_WATER (1u << 20)
#define READ_CHUNK 65536
/* What is still read from a step's pipes once it ended, at most. */
#define DRAIN_LIMIT (4u << 20)
/* How long an interrupted REPL gets to come back before it is killed. */
#define REPL_GRACE_MS 1000
/* How long the host has to connect after the container started. */
#define ACCEPT_TIMEOUT_MS 60000
/* Input checks back off from 1 ms to this interval while a step runs. */
#define CHECK_MAX_MS 25

enum { K_SHELL = 0, K_REPL = 1 };
enum { WAIT_NONE = 0, WAIT_PIPE = 1, WAIT_CONTROL = 2 };
enum { FLAG_OOM = 1, FLAG_KILLED = 2 };

struct buf {
  char *data;
  size_t len, cap;
};

static void fatal(const char *what) {
  fprintf(stderr, "kiln-runner: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void buf_append(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) fatal("out of memory");
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_consume(struct buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* ---- the host connection ---------------------------------------------------- */

static int conn = -1;
static struct buf from_host, to_host;

static void flush_host(void) {
  while (to_host.len > 0) {
    ssize_t n = write(conn, to_host.data, to_host.len);
    if (n > 0) {
      buf_consume(&to_host, (size_t)n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      kill(-1, SIGKILL); /* the host is gone: so is the session */
      exit(0);
    }
  }
}

static void send_frame(char type, const void *payload, size_t len) {
  unsigned char head[5];
  head[0] = (unsigned char)type;
  put_u32(head + 1, (uint32_t)len);
  buf_append(&to_host, head, 5);
  buf_append(&to_host, payload, len);
  flush_host();
}

static void send_text(char type, const char *text) {
  send_frame(type, text, strlen(text));
}

/* ---- the REPL child (query mode with state) -------------------------------- */

struct repl {
  pid_t pid; /* 0: none running */
  int in, out, err, ctl;
  ino_t in_ino;
  struct buf ctl_buf;
};
static struct repl repl = {0, -1, -1, -1, -1, 0, {0}};

/* ---- the current step --------------------------------------------------------- */

struct step {
  int active;
  int kind;
  pid_t pid;        /* shell: bash; repl: the REPL */
  int in, out, err; /* shell pipes (a REPL step uses the REPL's) */
  ino_t in_ino;
  struct buf pending_in;
  int waiting;
  int done;
  int code;
  uint32_t maxrss_kib;
  unsigned long long oom_before;
  uint32_t cap;
  uint64_t sent[2];
  int truncated[2];
  int killed;
  long long kill_deadline; /* REPL: SIGKILL at this time if it has not come back */
  long long next_check;
  int check_interval;
};
static struct step st;

static int step_stdin(void) {
  return st.kind == K_REPL ? repl.in : st.in;
}

static void reset_checks(void) {
  st.check_interval = 1;
  st.next_check = now_ms() + 1;
}

/* ---- cgroup and /proc ----------------------------------------------------- */

/*
 * The memory cgroup's OOM-kill counter: cgroup v2 memory.events, v1 memory.oom_control.
 * Read twice a step, so the file is opened once and read again from its start.
 */
static unsigned long long oom_count(void) {
  static const char *files[] = {"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"};
  static int fd = -2;
  for (size_t i = 0; fd == -2 && i < sizeof files / sizeof *files; i++) {
    int f = open(files[i], O_RDONLY | O_CLOEXEC);
    if (f >= 0) fd = f;
  }
  if (fd < 0) {
    fd = -1; /* neither exists: no counter */
    return 0;
  }
  char text[1024] = "\n";
  ssize_t n = pread(fd, text + 1, sizeof text - 2, 0);
  if (n <= 0) return 0;
  text[n + 1] = 0;
  const char *line = strstr(text, "\noom_kill ");
  return line ? strtoull(line + 10, NULL, 10) : 0;
}

/* VmHWM of a process, for a REPL step's peak memory. */
static uint32_t peak_rss_kib(pid_t pid) {
  char path[64], line[128];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  unsigned long kib = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmHWM: %lu", &kib) == 1) break;
  }
  fclose(f);
  return (uint32_t)kib;
}

static int is_read_syscall(long nr) {
  return nr == SYS_read || nr == SYS_readv || nr == SYS_pread64 || nr == SYS_preadv
#ifdef SYS_preadv2
         || nr == SYS_preadv2
#endif
      ;
}

/* Whether a thread is blocked in a read(2)-like call on the pipe with inode `ino`. */
static int task_reads_pipe(int pid, int tid, ino_t ino) {
  char path[128], line[256], target[64], want[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  if (n <= 0) return 0;
  line[n] = 0;
  char *end;
  long nr = strtol(line, &end, 10);
  if (end == line || !is_read_syscall(nr)) return 0; /* also "running" */
  unsigned long fdnum = strtoul(end, NULL, 16);
  snprintf(path, sizeof path, "/proc/%d/fd/%lu", pid, fdnum);
  ssize_t m = readlink(path, target, sizeof target - 1);
  if (m < 0) return 0;
  target[m] = 0;
  snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)ino);
  return strcmp(target, want) == 0;
}

static int is_pid_name(const char *name) {
  if (!*name) return 0;
  for (const char *p = name; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

/* Whether some thread of some process waits reading the step's stdin pipe. */
static int someone_reads_stdin(ino_t ino) {
  DIR *proc = opendir("/proc");
  if (!proc) return 0;
  int found = 0;
  struct dirent *p;
  while (!found && (p = readdir(proc))) {
    if (!is_pid_name(p->d_name) || strcmp(p->d_name, "1") == 0) continue;
    char path[64];
    int pid = atoi(p->d_name);
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *tasks = opendir(path);
    if (!tasks) continue;
    struct dirent *t;
    while (!found && (t = readdir(tasks))) {
      if (is_pid_name(t->d_name)) found = task_reads_pipe(pid, atoi(t->d_name), ino);
    }
    closedir(tasks);
  }
  closedir(proc);
  return found;
}

/*
 * Ends every process of the container but the runner and a live REPL. Without a REPL,
 * kill(-1) does it in one atomic sweep. With one, everything is stopped first (so
 * nothing forks while /proc is walked), the others are killed and the REPL resumed.
 * Returns 0 when there was certainly nothing to kill.
 */
static int kill_strays(void) {
  if (!repl.pid) return kill(-1, SIGKILL) == 0 || errno != ESRCH;
  kill(-1, SIGSTOP);
  DIR *proc = opendir("/proc");
  if (proc) {
    struct dirent *p;
    while ((p = readdir(proc))) {
      if (!is_pid_name(p->d_name)) continue;
      pid_t pid = (pid_t)atoi(p->d_name);
      if (pid != 1 && pid != repl.pid) kill(pid, SIGKILL);
    }
    closedir(proc);
  }
  kill(repl.pid, SIGCONT);
  return 1;
}

static void reap(void);

/* Whether a process has exited and only waits to be reaped (state Z in /proc/<pid>/stat). */
static int is_zombie(pid_t pid) {
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1; /* gone already */
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 1;
  stat[n] = 0;
  char *end = strrchr(stat, ')'); /* the command name may hold anything */
  return !end || end[1] == 0 || end[2] == 'Z' || end[2] == 'X';
}

/* Live processes other than the runner and a live REPL. */
static int count_strays(void) {
  DIR *proc = opendir("/proc");
  int n = 0;
  if (!proc) return 0;
  struct dirent *p;
  while ((p = readdir(proc))) {
    if (!is_pid_name(p->d_name)) continue;
    pid_t pid = (pid_t)atoi(p->d_name);
    if (pid != 1 && pid != repl.pid && !is_zombie(pid)) n++;
  }
  closedir(proc);
  return n;
}

/*
 * Kills the strays and waits (2 s at most) until none is left running, so the next step
 * starts with an empty container: SIGKILLed processes take a moment to exit. Their
 * orphans come to PID 1 and are reaped here; zombies a live REPL has not waited for
 * yet are its business.
 */
static void settle_strays(void) {
  for (int i = 0; i < 2000; i++) {
    if (!kill_strays()) break; /* the usual end of a step: no /proc walk needed */
    reap();
    if (count_strays() == 0) break;
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  reap();
}

/* ---- spawning ----------------------------------------------------------------- */

/* The step's environment: the container's own (PATH, language settings) overridden by the host's. */
static char **make_env(char **entries, size_t count) {
  extern char **environ;
  size_t base = 0;
  while (environ[base]) base++;
  char **env = calloc(base + count + 1, sizeof *env);
  if (!env) fatal("out of memory");
  size_t n = 0;
  for (size_t i = 0; i < base; i++) env[n++] = environ[i];
  for (size_t i = 0; i < count; i++) {
    const char *eq = strchr(entries[i], '=');
    if (!eq || eq == entries[i]) continue;
    size_t keylen = (size_t)(eq - entries[i]) + 1;
    size_t j = 0;
    while (j < n && strncmp(env[j], entries[i], keylen) != 0) j++;
    env[j] = entries[i];
    if (j == n) n++;
  }
  env[n] = NULL;
  return env;
}

/* ---- direct exec: a command of plain words needs no shell ------------------------ */

/*
 * bash costs a step about 1.2 ms. A command made of plain words only means to bash what
 * its argument vector means, so it is exec'd directly, found and given the environment
 * the way `bash -c` would (PWD, SHLVL, _). Anything else goes to bash: quotes, $, `,
 * globs, redirections, operators, braces, ~, #, backslashes, control characters, an
 * assignment or a keyword or builtin as the command, an environment that changes how
 * bash starts. So does a command that cannot be exec'd: bash then reports it in its own
 * words and exit code (127 not found, 126 not executable), and runs a script without #!.
 */

static const char *const BASH_WORDS[] = {
    /* keywords */
    "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then", "time",
    "until", "while",
    /* builtins (compgen -b; [ is not a plain word) */
    ".", ":", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete", "compopt", "continue",
    "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash",
    "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read",
    "readarray", "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test", "times", "trap", "true",
    "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait"};

/* Variables bash reads at start-up that change what a simple command does. */
static const char *const BASH_STARTUP_VARS[] = {"BASH_ENV=", "SHELLOPTS=", "BASHOPTS=", "EXECIGNORE=", "POSIXLY_CORRECT="};

/* Bytes bash gives no meaning to in a word; the command word may not hold = (an assignment) or % (a job). */
static int plain_byte(unsigned char c, int command) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return 1;
  switch (c) {
    case '_': case '-': case '.': case '/': case '+': case ',': case ':': case '@': case '^': return 1;
    case '=': case '%': return !command;
    default: return 0;
  }
}

/* The words of a command that bash would run as a plain argument vector, NULL-terminated; NULL when it needs bash. */
static char **plain_words(const char *cmd, char **env) {
  for (char **e = env; *e; e++) {
    for (size_t i = 0; i < sizeof BASH_STARTUP_VARS / sizeof *BASH_STARTUP_VARS; i++)
      if (strncmp(*e, BASH_STARTUP_VARS[i], strlen(BASH_STARTUP_VARS[i])) == 0) return NULL;
    if (strncmp(*e, "BASH_FUNC_", 10) == 0) return NULL;
  }
  size_t n = 0, len = strlen(cmd);
  for (const char *p = cmd; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    for (; *p && *p != ' ' && *p != '\t'; p++)
      if (!plain_byte((unsigned char)*p, n == 0)) return NULL;
    n++;
  }
  if (n == 0) return NULL;
  /* One block: the pointers, then a copy of the command split in place. */
  char **argv = malloc((n + 1) * sizeof *argv + len + 1);
  if (!argv) fatal("out of memory");
  char *copy = (char *)(argv + n + 1);
  memcpy(copy, cmd, len + 1);
  size_t i = 0;
  for (char *p = copy; *p;) {
    while (*p == ' ' || *p == '\t') *p++ = 0;
    if (!*p) break;
    argv[i++] = p;
    while (*p && *p != ' ' && *p != '\t') p++;
  }
  argv[n] = NULL;
  for (size_t k = 0; k < sizeof BASH_WORDS / sizeof *BASH_WORDS; k++) {
    if (strcmp(argv[0], BASH_WORDS[k]) == 0) {
      free(argv);
      return NULL;
    }
  }
  return argv;
}

static const char *env_value(char **env, const char *name) {
  size_t len = strlen(name);
  for (char **e = env; *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
  return NULL;
}

/* bash's PATH search: the first entry (empty means .) holding a non-directory we may execute. */
static int find_in_path(const char *name, const char *path, char *out, size_t size) {
  if (!path || !*path) return 0; /* bash then tries ./name: left to bash */
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    int len = (int)(end - dir);
    if (snprintf(out, size, "%.*s/%s", len ? len : 1, len ? dir : ".", name) < (int)size) {
      struct stat s;
      if (stat(out, &s) == 0 && !S_ISDIR(s.st_mode) && access(out, X_OK) == 0) return 1;
    }
    if (!*end) return 0;
    dir = end;
  }
}

/* What a shell step execs when bash is not needed. */
static struct {
  char **argv; /* NULL: bash runs the command */
  char **env;
  char path[4096];
  char pwd[4104], shlvl[32], underscore[4104];
} direct;

static void clear_direct(void) {
  free(direct.argv);
  free(direct.env);
  direct.argv = NULL;
  direct.env = NULL;
}

/*
 * Prepares `direct` for a command bash would simply exec: its program found, and the
 * environment with what bash adds (PWD, SHLVL, _). Run in the step's directory.
 */
static void prepare_direct(const char *cmd, char **env) {
  clear_direct();
  char **argv = plain_words(cmd, env);
  if (!argv) return;
  if (strchr(argv[0], '/')) {
    snprintf(direct.path, sizeof direct.path, "%s", argv[0]);
  } else if (!find_in_path(argv[0], env_value(env, "PATH"), direct.path, sizeof direct.path)) {
    free(argv); /* not found: bash says so */
    return;
  }
  /* bash -c execs its one command in place of itself, handing on its parent's SHLVL (0 when unset or not a number). */
  const char *level = env_value(env, "SHLVL");
  int numeric = level && *level && strspn(level, "0123456789") == strlen(level);
  char cwd[4096];
  snprintf(direct.shlvl, sizeof direct.shlvl, "SHLVL=%.20s", numeric ? level : "0");
  snprintf(direct.pwd, sizeof direct.pwd, "PWD=%s", getcwd(cwd, sizeof cwd) ? cwd : "/");
  snprintf(direct.underscore, sizeof direct.underscore, "_=%s", direct.path);
  size_t n = 0;
  while (env[n]) n++;
  direct.env = calloc(n + 4, sizeof *direct.env);
  if (!direct.env) fatal("out of memory");
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(env[i], "PWD=", 4) != 0 && strncmp(env[i], "SHLVL=", 6) != 0 && strncmp(env[i], "_=", 2) != 0) direct.env[m++] = env[i];
  }
  direct.env[m++] = direct.pwd;
  direct.env[m++] = direct.shlvl;
  direct.env[m++] = direct.underscore;
  direct.env[m] = NULL;
  direct.argv = argv;
}

/*
 * Children are started with vfork: the runner waits while the child execs, and nothing is
 * copied. So between vfork and exec a child makes system calls only: no allocation, no
 * stdio, nothing that writes the runner's memory.
 */

/* In the child: reports why it could not exec on its stderr, and exits 127. */
static void child_failed(const char *what) {
  const char *why = strerror(errno);
  struct iovec parts[] = {{"kiln-runner: cannot run ", 24}, {(void *)what, strlen(what)}, {": ", 2}, {(void *)why, strlen(why)}, {"\n", 1}};
  if (writev(2, parts, 5) < 0) { /* nobody to tell */
  }
  _exit(127);
}

/*
 * In the child before exec: the step's pipes as stdin, stdout and stderr, a clean signal
 * state, its own session, first in line for the OOM killer. The runner catches no
 * signal and ignores only SIGPIPE, and exec resets caught ones anyway: the mask and
 * SIGPIPE are all there is to undo. The directory is the runner's (see begin_step).
 */
static void child_setup(int p[3][2]) {
  dup2(p[0][0], 0);
  dup2(p[1][1], 1);
  dup2(p[2][1], 2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (write(fd, "1000", 4) < 0) { /* raising it needs no privilege; failing only costs the preference */
    }
    close(fd);
  }
}

static int make_pipes(int fds[3][2]) {
  for (int i = 0; i < 3; i++) {
    if (pipe2(fds[i], O_CLOEXEC) != 0) {
      for (int j = 0; j < i; j++) close(fds[j][0]), close(fds[j][1]);
      return -1;
    }
  }
  return 0;
}

/* A shell step: its words exec'd directly when bash would do just that, else `bash -c -- CMD`. */
static int start_shell(const char *cmd, char **env) {
  int p[3][2];
  if (make_pipes(p) != 0) return -1;
  prepare_direct(cmd, env);
  char *bash[] = {"bash", "-c", "--", (char *)cmd, NULL};
  pid_t pid = vfork();
  if (pid == 0) {
    child_setup(p);
    /* A program that cannot be exec'd is bash's to report, as it would have. */
    if (direct.argv) execve(direct.path, direct.argv, direct.env);
    execve("/bin/bash", bash, env);
    child_failed("/bin/bash");
  }
  clear_direct();
  close(p[0][0]);
  close(p[1][1]);
  close(p[2][1]);
  if (pid < 0) {
    close(p[0][1]), close(p[1][0]), close(p[2][0]);
    return -1;
  }
  st.pid = pid;
  st.in = p[0][1];
  st.out = p[1][0];
  st.err = p[2][0];
  struct stat s;
  st.in_ino = fstat(st.in, &s) == 0 ? s.st_ino : 0;
  set_nonblock(st.in);
  set_nonblock(st.out);
  set_nonblock(st.err);
  return 0;
}

static int start_repl(char **argv, char **env) {
  int p[3][2], ctl[2];
  if (make_pipes(p) != 0) return -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) != 0) {
    for (int i = 0; i < 3; i++) close(p[i][0]), close(p[i][1]);
    return -1;
  }
  pid_t pid = vfork();
  if (pid == 0) {
    child_setup(p);
    dup2(ctl[1], 3);
    execvpe(argv[0], argv, env);
    child_failed(argv[0]);
  }
  close(p[0][0]);
  close(p[1][1]);
  close(p[2][1]);
  close(ctl[1]);
  if (pid < 0) {
    close(p[0][1]), close(p[1][0]), close(p[2][0]), close(ctl[0]);
    return -1;
  }
  repl.pid = pid;
  repl.in = p[0][1];
  repl.out = p[1][0];
  repl.err = p[2][0];
  repl.ctl = ctl[0];
  repl.ctl_buf.len = 0;
  struct stat s;
  repl.in_ino = fstat(repl.in, &s) == 0 ? s.st_ino : 0;
  set_nonblock(repl.in);
  set_nonblock(repl.out);
  set_nonblock(repl.err);
  set_nonblock(repl.ctl);
  return 0;
}

static void close_repl(void) {
  close_fd(&repl.in);
  close_fd(&repl.out);
  close_fd(&repl.err);
  close_fd(&repl.ctl);
  repl.pid = 0;
}

static void send_repl(char type, const void *payload, size_t len) {
  unsigned char head[5];
  head[0] = (unsigned char)type;
  put_u32(head + 1, (uint32_t)len);
  /* The REPL reads its control socket whenever it waits for code or input: blocking is brief. */
  int fd = repl.ctl;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (write(fd, head, 5) != 5 || (len && write(fd, payload, len) != (ssize_t)len)) {
    /* The REPL died; its exit is reaped and reported. */
  }
  set_nonblock(fd);
}

/* ---- output ---------------------------------------------------------------------- */

static void forward(int stream, const char *data, size_t n) {
  if (!st.active || st.truncated[stream]) return;
  if (st.cap && st.sent[stream] + n > st.cap) {
    n = (size_t)(st.cap - st.sent[stream]);
    if (n) send_frame(stream ? 'E' : 'O', data, n);
    char marker[96];
    snprintf(marker, sizeof marker, "\n[kiln: output truncated after %u bytes]\n", st.cap);
    send_text(stream ? 'E' : 'O', marker);
    st.truncated[stream] = 1;
    st.sent[stream] = st.cap;
    return;
  }
  send_frame(stream ? 'E' : 'O', data, n);
  st.sent[stream] += n;
}

/* Reads what a pipe holds now; returns 0 at end of file (the fd is then closed). */
static int pump(int *fd, int stream, int relay, size_t limit) {
  char chunk[READ_CHUNK];
  size_t total = 0;
  while (*fd >= 0 && total < limit) {
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
      if (relay) forward(stream, chunk, (size_t)n);
      total += (size_t)n;
      if (limit == READ_CHUNK) return 1; /* one chunk per poll round keeps streams interleaved */
    } else if (n == 0) {
      close_fd(fd);
      return 0;
    } else if (errno == EINTR) {
      continue;
    } else {
      return 1; /* EAGAIN */
    }
  }
  return 1;
}

static void write_input(void) {
  int fd = step_stdin();
  while (st.pending_in.len > 0 && fd >= 0) {
    ssize_t n = write(fd, st.pending_in.data, st.pending_in.len);
    if (n > 0) buf_consume(&st.pending_in, (size_t)n);
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && errno == EAGAIN) return;
    else {
      st.pending_in.len = 0; /* nobody reads the pipe any more */
      return;
    }
  }
}

/* ---- steps ------------------------------------------------------------------------- */

static void finish_step(void) {
  settle_strays();
  if (st.kind == K_SHELL) {
    pump(&st.out, 0, 1, DRAIN_LIMIT);
    pump(&st.err, 1, 1, DRAIN_LIMIT);
    close_fd(&st.in);
    close_fd(&st.out);
    close_fd(&st.err);
  } else {
    pump(&repl.out, 0, 1, DRAIN_LIMIT);
    pump(&repl.err, 1, 1, DRAIN_LIMIT);
    if (!repl.pid) close_repl();
  }
  unsigned char payload[9];
  put_u32(payload, (uint32_t)st.code);
  payload[4] = (oom_count() > st.oom_before ? FLAG_OOM : 0) | (st.killed ? FLAG_KILLED : 0);
  put_u32(payload + 5, st.maxrss_kib);
  st.active = 0;
  st.pending_in.len = 0;
  send_frame('Z', payload, sizeof payload);
}

static int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

static void reap(void) {
  for (;;) {
    int status;
    struct rusage ru;
    pid_t pid = wait4(-1, &status, WNOHANG, &ru);
    if (pid <= 0) return;
    if (st.active && st.kind == K_SHELL && pid == st.pid) {
      st.done = 1;
      st.code = decode_status(status);
      st.maxrss_kib = (uint32_t)ru.ru_maxrss;
    } else if (repl.pid && pid == repl.pid) {
      repl.pid = 0; /* its pipes stay open until drained */
      if (st.active && st.kind == K_REPL && !st.done) {
        st.done = 1;
        st.code = decode_status(status);
        st.maxrss_kib = (uint32_t)ru.ru_maxrss;
      } else if (!st.active || st.kind != K_REPL) {
        close_repl();
      }
    }
  }
}

static void exec_failed(const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "kiln-runner: cannot start %s: %s\n", what, strerror(errno));
  send_text('E', msg);
  unsigned char payload[9] = {0};
  put_u32(payload, 127);
  send_frame('Z', payload, sizeof payload);
}

/* Splits the REPL's argv, sent NUL-separated in one field. */
static char **split_argv(const char *joined, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += joined[i] == 0;
  char **argv = calloc(n + 2, sizeof *argv);
  if (!argv) fatal("out of memory");
  size_t argc = 0;
  for (size_t i = 0; i < len;) {
    argv[argc++] = (char *)joined + i;
    while (i < len && joined[i]) i++;
    i++;
  }
  argv[argc] = NULL;
  return argv;
}

static void begin_step(const unsigned char *p, size_t len) {
  if (st.active) {
    unsigned char payload[9] = {0};
    put_u32(payload, (uint32_t)-1);
    send_text('E', "kiln-runner: a step is already running\n");
    send_frame('Z', payload, sizeof payload);
    return;
  }
  if (len < 9) return exec_failed("a step (bad request)");
  int kind = p[0];
  uint32_t cap = get_u32(p + 1), count = get_u32(p + 5);
  if (count < 1 || count > (len - 9) / 4) return exec_failed("a step (bad request)");
  /* Each field copied with a NUL after it; lengths kept, since argv holds NULs. */
  char **fields = calloc(count, sizeof *fields);
  size_t *lengths = calloc(count, sizeof *lengths);
  if (!fields || !lengths) fatal("out of memory");
  size_t off = 9;
  for (uint32_t i = 0; i < count; i++) {
    if (off + 4 > len || get_u32(p + off) > len - off - 4) {
      for (uint32_t j = 0; j < i; j++) free(fields[j]);
      free(fields);
      free(lengths);
      return exec_failed("a step (bad request)");
    }
    lengths[i] = get_u32(p + off);
    fields[i] = malloc(lengths[i] + 1);
    if (!fields[i]) fatal("out of memory");
    memcpy(fields[i], p + off + 4, lengths[i]);
    fields[i][lengths[i]] = 0;
    off += 4 + lengths[i];
  }
  memset(&st.sent, 0, sizeof st.sent);
  memset(&st.truncated, 0, sizeof st.truncated);
  st.kind = kind == K_REPL ? K_REPL : K_SHELL;
  st.cap = cap;
  st.done = st.killed = 0;
  st.waiting = WAIT_NONE;
  st.code = 0;
  st.maxrss_kib = 0;
  st.kill_deadline = 0;
  st.pending_in.len = 0;
  st.oom_before = oom_count();
  size_t env_from = st.kind == K_REPL ? 2 : 1;
  char **env = make_env(fields + (count > env_from ? env_from : count), count > env_from ? count - env_from : 0);

  /* The step's directory as mounted now (a pooled container gets its session's after the runner started); children inherit it. */
  if (chdir(WORKDIR) != 0 && chdir("/") != 0) {
    exec_failed("a step (no working directory)");
  } else if (st.kind == K_SHELL) {
    if (start_shell(fields[0], env) != 0) exec_failed("bash");
    else st.active = 1;
  } else if (count < 2 || lengths[1] == 0) {
    exec_failed("the REPL (no interpreter given)");
  } else {
    int ok = 1;
    if (!repl.pid) {
      if (repl.out >= 0 || repl.ctl >= 0) close_repl(); /* the previous one died between steps */
      char **argv = split_argv(fields[1], lengths[1]);
      ok = start_repl(argv, env) == 0;
      free(argv);
      if (!ok) exec_failed("the REPL");
    }
    if (ok) {
      st.pid = repl.pid;
      st.in_ino = repl.in_ino;
      st.active = 1;
      send_repl('C', fields[0], lengths[0]);
    }
  }
  reset_checks();
  free(env);
  for (uint32_t i = 0; i < count; i++) free(fields[i]);
  free(fields);
  free(lengths);
}

static void kill_step(void) {
  if (!st.active || st.done) return;
  st.killed = 1;
  if (st.kind == K_SHELL) {
    kill_strays();
  } else {
    /* An interrupted REPL keeps its state when it comes back in time (KeyboardInterrupt). */
    kill_strays();
    kill(repl.pid, SIGINT);
    st.kill_deadline = now_ms() + REPL_GRACE_MS;
  }
}

static void give_input(const unsigned char *p, size_t len) {
  if (!st.active || st.done) return;
  if (st.waiting == WAIT_CONTROL) {
    send_repl('I', p, len);
  } else {
    buf_append(&st.pending_in, p, len);
    write_input();
  }
  st.waiting = WAIT_NONE;
  reset_checks();
}

static void handle_host(void) {
  while (from_host.len >= 5) {
    const unsigned char *p = (const unsigned char *)from_host.data;
    uint32_t len = get_u32(p + 1);
    if (len > MAX_FRAME) {
      fprintf(stderr, "kiln-runner: frame of %u bytes from the host\n", len);
      kill(-1, SIGKILL);
      exit(1);
    }
    if (from_host.len < 5 + (size_t)len) return;
    switch (p[0]) {
      case 'X': begin_step(p + 5, len); break;
      case 'I': give_input(p + 5, len); break;
      case 'K': kill_step(); break;
      default: break;
    }
    buf_consume(&from_host, 5 + (size_t)len);
  }
}

static void handle_repl_control(void) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(repl.ctl, chunk, sizeof chunk);
    if (n > 0) {
      buf_append(&repl.ctl_buf, chunk, (size_t)n);
      continue;
    }
    if (n == 0) close_fd(&repl.ctl); /* it is exiting; the reap reports it */
    break;
  }
  struct buf *b = &repl.ctl_buf;
  while (b->len >= 5) {
    const unsigned char *p = (const unsigned char *)b->data;
    uint32_t len = get_u32(p + 1);
    if (len > 4096) { /* the REPL runs user code: a broken channel ends it */
      kill(repl.pid, SIGKILL);
      b->len = 0;
      return;
    }
    if (b->len < 5 + (size_t)len) return;
    int ours = st.active && st.kind == K_REPL && !st.done;
    if (p[0] == 'D' && len >= 4 && ours) {
      st.done = 1;
      st.code = (int32_t)get_u32(p + 5);
      st.maxrss_kib = peak_rss_kib(repl.pid);
    } else if (p[0] == 'W' && len >= 1 && ours) {
      st.waiting = WAIT_CONTROL;
      unsigned char password = p[5] ? 1 : 0;
      send_frame('W', &password, 1);
    }
    buf_consume(b, 5 + (size_t)len);
  }
}

/* Tells the host when the program blocks reading an empty stdin. */
static void check_input(void) {
  long long now = now_ms();
  if (!st.active || st.done || st.waiting != WAIT_NONE || st.pending_in.len > 0 || now < st.next_check) return;
  int fd = step_stdin(), queued = 0;
  if (fd >= 0 && ioctl(fd, FIONREAD, &queued) == 0 && queued == 0 && someone_reads_stdin(st.in_ino)) {
    st.waiting = WAIT_PIPE;
    unsigned char password = 0;
    send_frame('W', &password, 1);
    return;
  }
  st.check_interval = st.check_interval * 2 > CHECK_MAX_MS ? CHECK_MAX_MS : st.check_interval * 2;
  st.next_check = now + st.check_interval;
}

/* ---- main -------------------------------------------------------------------------- */

static int listen_on(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "kiln-runner: socket path too long\n");
    exit(1);
  }
  strcpy(addr.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket");
  mode_t old = umask(077);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fatal("bind");
  umask(old);
  if (listen(fd, 1) != 0) fatal("listen");
  return fd;
}

enum { P_CONN, P_SIG, P_OUT, P_ERR, P_IN, P_ROUT, P_RERR, P_RCTL, P_COUNT };

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kiln-runner SOCKET\n");
    return 2;
  }
  if (getpid() != 1) {
    fprintf(stderr, "kiln-runner: must be PID 1 of its own pid namespace (it kills with kill(-1))\n");
    return 2;
  }
  prctl(PR_SET_DUMPABLE, 0);
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) fatal("signalfd");
  st.in = st.out = st.err = -1;

  int listener = listen_on(argv[1]);
  struct pollfd lp = {.fd = listener, .events = POLLIN};
  if (poll(&lp, 1, ACCEPT_TIMEOUT_MS) != 1) {
    fprintf(stderr, "kiln-runner: no connection from the host\n");
    return 1;
  }
  conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0) fatal("accept");
  close(listener);
  unlink(argv[1]); /* nobody else connects: session programs run with the runner's uid */
  send_text('H', PROTOCOL);

  for (;;) {
    struct pollfd fds[P_COUNT];
    for (int i = 0; i < P_COUNT; i++) fds[i] = (struct pollfd){.fd = -1};
    fds[P_CONN] = (struct pollfd){.fd = conn, .events = POLLIN | (to_host.len ? POLLOUT : 0)};
    fds[P_SIG] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    int reading = to_host.len < OUT_HIGH_WATER;
    int repl_step = st.active && st.kind == K_REPL;
    if (st.active && st.kind == K_SHELL && reading) {
      fds[P_OUT] = (struct pollfd){.fd = st.out, .events = POLLIN};
      fds[P_ERR] = (struct pollfd){.fd = st.err, .events = POLLIN};
    }
    if (st.active && st.pending_in.len) fds[P_IN] = (struct pollfd){.fd = step_stdin(), .events = POLLOUT};
    if (reading || !repl_step) {
      /* Between steps the REPL's output (a stray thread's prints) is read and dropped. */
      fds[P_ROUT] = (struct pollfd){.fd = repl.out, .events = POLLIN};
      fds[P_RERR] = (struct pollfd){.fd = repl.err, .events = POLLIN};
    }
    fds[P_RCTL] = (struct pollfd){.fd = repl.ctl, .events = POLLIN};

    int timeout = -1;
    long long now = now_ms();
    if (st.active && !st.done && st.waiting == WAIT_NONE) timeout = (int)(st.next_check > now ? st.next_check - now : 0);
    if (st.kill_deadline && !st.done) {
      int until = (int)(st.kill_deadline > now ? st.kill_deadline - now : 0);
      if (timeout < 0 || until < timeout) timeout = until;
    }
    if (poll(fds, P_COUNT, timeout) < 0 && errno != EINTR) fatal("poll");

    if (fds[P_CONN].revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[READ_CHUNK];
      ssize_t n = read(conn, chunk, sizeof chunk);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        kill(-1, SIGKILL);
        return 0;
      }
      if (n > 0) buf_append(&from_host, chunk, (size_t)n);
      handle_host();
    }
    if (fds[P_CONN].revents & POLLOUT) flush_host();
    if (fds[P_SIG].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) > 0) {
      }
      reap();
    }
    if (fds[P_OUT].revents) pump(&st.out, 0, 1, READ_CHUNK);
    if (fds[P_ERR].revents) pump(&st.err, 1, 1, READ_CHUNK);
    if (fds[P_IN].revents) write_input();
    if (fds[P_ROUT].revents) pump(&repl.out, 0, repl_step, READ_CHUNK);
    if (fds[P_RERR].revents) pump(&repl.err, 1, repl_step, READ_CHUNK);
    if (fds[P_RCTL].revents) handle_repl_control();

    if (st.kill_deadline && !st.done && now_ms() >= st.kill_deadline && repl.pid) {
      kill(repl.pid, SIGKILL);
      st.kill_deadline = 0;
    }
    if (st.active && st.done) finish_step();
    check_input();
  }
}
