"""Runs a command on a pseudo-terminal and answers its prompts, as an
operator at a terminal would: pexpect waits for each prompt before it types
the answer (the CLI flushes pending input when it turns echo off).

Input (stdin, JSON): {"argv": [...], "env": {...}, "dialog": [[prompt, answer], ...],
"timeout": seconds}. Output (stdout, JSON): {"exit": status, "transcript": text}
or {"error": what went wrong, "transcript": text}.
"""

import json
import os
import sys

import pexpect


def main() -> None:
    req = json.load(sys.stdin)
    env = dict(os.environ)
    env.update(req.get("env", {}))
    child = pexpect.spawn(
        req["argv"][0],
        req["argv"][1:],
        env=env,
        encoding="utf-8",
        timeout=req.get("timeout", 60),
    )
    transcript = []
    try:
        for prompt, answer in req["dialog"]:
            child.expect_exact(prompt)
            transcript.append(child.before + child.after)
            child.sendline(answer)
        child.expect(pexpect.EOF)
        transcript.append(child.before)
        child.close()
        print(json.dumps({"exit": child.exitstatus, "transcript": "".join(transcript)}))
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        transcript.append(str(child.before))
        print(json.dumps({"error": type(e).__name__, "transcript": "".join(transcript)}))


if __name__ == "__main__":
    main()
