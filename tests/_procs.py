"""Process helpers shared by the tests that watch child processes (Linux /proc)."""
import time


def ended(pid:int) -> bool:
    "Whether process `pid` has ended (gone, or a zombie nobody reaped)."
    try:
        with open(f"/proc/{pid}/stat") as f: return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError: return True


def wait_until(cond, timeout_s=60.0) -> bool:
    "Whether `cond()` became true within `timeout_s` seconds (polled every 20 ms)."
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if cond(): return True
        time.sleep(0.02)
    return False
