"""The REPL driven in a real pseudo-terminal: typing, completion, history across restarts,
errors followed by good commands, Ctrl-C during a command and at the prompt, Ctrl-D."""
import json
import subprocess

import pexpect

PROMPT = "mstar> "


def start(mstar, workdir, run="run"):
    path, env = workdir
    child = pexpect.spawn(mstar, ["--out", str(path / run)], env=env, cwd=str(path),
                          encoding="utf-8", timeout=20, dimensions=(30, 100))
    child.expect_exact(PROMPT)
    return child


def finish(child):
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_typing_help_and_a_command(mstar, workdir):
    child = start(mstar, workdir)
    child.sendline("help")
    child.expect_exact("commands (help COMMAND for its options):")
    child.expect_exact("show settings")
    child.expect_exact(PROMPT)
    child.sendline("set plot_width 640")
    child.expect_exact("plot_width = 640")
    child.expect_exact(PROMPT)
    finish(child)
    journal = (workdir[0] / "run" / "session.mstar").read_text()
    assert "\nset plot_width 640\n#> plot_width = 640\n" in journal


def test_bad_command_then_good_one(mstar, workdir):
    child = start(mstar, workdir)
    child.sendline("hlep")
    child.expect_exact("error: unknown command 'hlep'; did you mean 'help'?")
    child.expect_exact(PROMPT)
    child.sendline("set temprature 1")
    child.expect_exact("error: unknown setting 'temprature'")
    child.expect_exact(PROMPT)
    child.sendline("seed 7")
    child.expect_exact("seed = 7")
    child.expect_exact(PROMPT)
    child.sendline("history")
    child.expect_exact("1  seed 7")
    child.expect_exact(PROMPT)
    finish(child)
    journal = (workdir[0] / "run" / "session.mstar").read_text()
    assert "seed 7\n#> seed = 7\n" in journal
    assert "hlep" not in journal


def history_lines(workdir):
    """The history file's entries, decoded from libedit's vis(3) encoding of spaces."""
    return [line.replace("\\040", " ") for line in (workdir[0] / "history").read_text().splitlines()[1:]]


def test_tab_completes_commands_options_and_values(mstar, workdir):
    # The screen is redrawn with escape sequences, so what completion typed is checked through what
    # ran and what the history file recorded.
    child = start(mstar, workdir)
    child.send("sho\t")
    child.send("se\t")
    child.send("\r")
    child.expect_exact("plot_height")
    child.expect_exact(PROMPT)
    # Option names, then an ambiguous value (test / text) lists both choices.
    child.send("data show --sp\t")
    child.send("te\t")
    child.expect(r"test\s+text")
    child.send("xt --ind\t")
    child.send("5\r")
    child.expect_exact("question: given 8 7 8 6 8 9 how many digits are less than 8 ?")
    child.expect_exact(PROMPT)
    # Setting keys after `set`.
    child.send("set plot_h\t")
    child.send("300\r")
    child.expect_exact("plot_height = 300")
    child.expect_exact(PROMPT)
    finish(child)
    assert history_lines(workdir) == ["show settings ", "data show --split text --index 5", "set plot_height 300"]


def test_file_path_completion(mstar, workdir):
    path, _ = workdir
    (path / "notebooks").mkdir()
    (path / "notebooks" / "quick.mstar").write_text("seed 3\n")
    child = start(mstar, workdir)
    child.send("include noteb\t")
    child.send("q\t")
    child.send("\r")
    child.expect_exact("seed = 3")
    child.expect_exact(PROMPT)
    finish(child)
    assert history_lines(workdir) == ["include notebooks/quick.mstar "]


def test_history_survives_a_restart(mstar, workdir):
    child = start(mstar, workdir)
    child.sendline("seed 11")
    child.expect_exact("seed = 11")
    child.expect_exact(PROMPT)
    finish(child)
    assert history_lines(workdir) == ["seed 11"]

    child = start(mstar, workdir, run="run2")
    child.send("\x1b[A")  # up arrow recalls the last line of the previous session
    child.send("\r")
    child.expect_exact("seed = 11")
    child.expect_exact(PROMPT)
    finish(child)


def test_ctrl_c_interrupts_a_running_command(mstar, workdir):
    child = start(mstar, workdir)
    child.sendline("sleep 30")
    child.expect_exact("sleep [")  # the progress bar is drawing: the command is running
    child.sendcontrol("c")
    child.expect_exact("interrupted", timeout=5)
    child.expect_exact(PROMPT)
    child.sendline("seed 2")
    child.expect_exact("seed = 2")
    child.expect_exact(PROMPT)
    finish(child)
    journal = (workdir[0] / "run" / "session.mstar").read_text()
    assert "sleep" not in journal
    assert "seed 2\n" in journal


def test_ctrl_c_at_the_prompt_clears_the_line(mstar, workdir):
    child = start(mstar, workdir)
    child.send("seed 99")
    child.sendcontrol("c")
    child.expect_exact("^C")
    child.expect_exact(PROMPT)
    child.sendline("history")
    child.expect_exact("(no commands yet)")
    child.expect_exact(PROMPT)
    finish(child)


def test_a_command_can_span_lines_and_quit_exits(mstar, workdir):
    child = start(mstar, workdir)
    child.sendline("set plot_width \\")
    child.expect_exact("...> ")
    child.sendline("720")
    child.expect_exact("plot_width = 720")
    child.expect_exact(PROMPT)
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_plot_draws_in_the_terminal(mstar, workdir):
    path, _ = workdir
    with open(path / "dyn.jsonl", "w") as f:
        for step in range(5):
            f.write(json.dumps({"step": step, "pass_at_k": 0.8 - 0.05 * step}) + "\n")
    child = start(mstar, workdir)
    child.sendline("plot pass_at_k --from dyn.jsonl")
    child.expect_exact("Pass@K: 5 points, x 0..4, min 0.6, max 0.8, last 0.6")
    child.expect_exact("iteration")  # the x axis label of the text plot
    child.expect_exact(PROMPT)
    finish(child)


def test_stdin_not_a_terminal_reads_plain_lines(mstar, workdir):
    path, env = workdir
    result = subprocess.run([mstar, "--out", str(path / "plain")], input="seed 3\nhlep\nshow settings\n",
                            capture_output=True, text=True, env=env, cwd=str(path), timeout=60)
    assert result.returncode == 1  # a command failed
    assert PROMPT not in result.stdout
    assert "seed = 3\n" in result.stdout
    assert "error: unknown command 'hlep'; did you mean 'help'?\n" in result.stdout
    assert "* seed" in result.stdout


def test_ctrl_c_during_evolve_keeps_the_completed_steps(mstar, workdir):
    child = start(mstar, workdir)
    for line, reply in [("data generate --fraction 0.02", "suite seed 0"), ("model new", "new policy"),
                        ("set prompts 8", "prompts = 8"), ("set k 4", "k = 4"), ("set max_tokens 12", "max_tokens = 12"),
                        ("set dynamics_prompts 4", "dynamics_prompts = 4"), ("set dynamics_k 2", "dynamics_k = 2")]:
        child.sendline(line)
        child.expect_exact(reply)
        child.expect_exact(PROMPT)
    child.sendline("evolve 500")
    child.expect_exact("evolve [", timeout=60)
    child.expect(r"evolve \[[^\]]*\] [1-9]", timeout=60)  # at least one step has completed
    child.sendcontrol("c")
    child.expect(r"interrupted after (\d+) of 500 iterations", timeout=60)
    done = int(child.match.group(1))
    assert done >= 1
    child.expect_exact(PROMPT)
    child.sendline("dynamics")
    child.expect_exact("RP@2")
    child.expect_exact(PROMPT)
    finish(child)
    run = workdir[0] / "run"
    journal = (run / "session.mstar").read_text()
    assert f"\nevolve {done}\n" in journal
    assert len((run / "dynamics.jsonl").read_text().splitlines()) == done
