"""Kiln's query-mode Python: one interpreter per session, whose globals survive between runs.

The runner (PID 1 of the container) starts this once, on the session's first query, with
stdin, stdout and stderr as pipes it relays, and fd 3 a control socket carrying frames of
type (1 byte), payload length (u32 big-endian), payload:
  runner -> repl   'C' code to run        'I' the line answering a 'W'
  repl -> runner   'D' exit code (i32)    'W' password flag (u8): input() waits for a line
Like the interactive interpreter, the value of a final expression is printed (when not None).
A run's exit code: 0, SystemExit's code, 1 for an uncaught exception, 130 when interrupted.
"""

import ast
import builtins
import getpass
import os
import socket
import struct
import sys
import traceback

control = socket.socket(fileno=3)
namespace = {"__name__": "__main__", "__builtins__": builtins}


def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = control.recv(n - len(data))
        if not chunk:
            os._exit(0)  # the runner is gone
        data += chunk
    return data


def read_frame():
    head = read_exact(5)
    kind, length = head[:1], struct.unpack(">I", head[1:])[0]
    return kind, read_exact(length)


def send_frame(kind, payload):
    control.sendall(kind + struct.pack(">I", len(payload)) + payload)


def flush():
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def ask(prompt, password):
    """input() and getpass(): the prompt goes to stdout, the line comes from the client."""
    sys.stdout.write(str(prompt))
    flush()
    send_frame(b"W", b"\x01" if password else b"\x00")
    while True:
        kind, data = read_frame()
        if kind == b"I":
            break
    text = data.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


builtins.input = lambda prompt="": ask(prompt, False)
getpass.getpass = lambda prompt="Password: ", stream=None: ask(prompt, True)


def report(error):
    """Prints a traceback without this file's frames."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb)


def run(source):
    try:
        tree = ast.parse(source, "<input>", "exec")
    except SyntaxError as error:
        traceback.print_exception(type(error), error, None)
        return 1
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    try:
        exec(compile(tree, "<input>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<input>", "eval"), namespace)
            if value is not None:
                namespace["_"] = value
                print(repr(value))
        return 0
    except SystemExit as error:
        if error.code is None:
            return 0
        if isinstance(error.code, int):
            return error.code
        print(error.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        report(error)
        return 130
    except BaseException as error:
        report(error)
        return 1


def main():
    # Imports resolve from the working directory, as in `python3 -i`.
    sys.path[0] = ""
    while True:
        try:
            kind, data = read_frame()
            if kind != b"C":
                continue
            code = run(data.decode("utf-8", "replace"))
            flush()
            send_frame(b"D", struct.pack(">i", max(-(2**31), min(code, 2**31 - 1))))
        except KeyboardInterrupt:
            # An interrupt between runs, or while reporting one: the runner resends nothing.
            continue


main()
