"""The ``cmfr`` command group and the one place where errors become exit codes.

Every failure reaches the user as one red line on stderr: exit code 2 for usage and input
errors, 1 for codec errors, 130 for Ctrl-C and 143 for SIGTERM.  ``cmfr --debug ...`` shows
the traceback instead.  Output files are written atomically by the library, so an error
anywhere leaves no partial file behind.
"""

from __future__ import annotations

import signal
import sys
import traceback

import click
from rich.console import Console

from cmfr_codec import __version__
from cmfr_codec.errors import CmfrError

from .data import data
from .decode import decode
from .encode import encode
from .evaluate import evaluate
from .info import info
from .train import train

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup (atomic outputs) runs as for Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cmfr")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback when a command fails (default: one line on stderr).",
)
def cli(debug: bool) -> None:
    """cmfr: encode, decode and evaluate video with the CMFR learned codec.

    \b
      cmfr encode input.y4m out.bin --quality 40   video -> bitstream
      cmfr decode out.bin recon.y4m                bitstream -> video
      cmfr info out.bin                            header and per-frame table
      cmfr eval input.y4m --decoded recon.y4m      PSNR / MS-SSIM / bitrate
      cmfr eval input.y4m --codecs cmfr,x264       compare codecs: BD-rate, RD plot
      cmfr data fetch && cmfr data prepare         build the training set
      cmfr train --output runs/s                   train the model, stage by stage

    Run 'cmfr COMMAND --help' for the options of each command.
    """


cli.add_command(encode)
cli.add_command(decode)
cli.add_command(info)
cli.add_command(evaluate)
cli.add_command(data)
cli.add_command(train)


def _report(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cmfr`` console script and ``python -m cmfr_codec``."""
    arguments = sys.argv[1:] if argv is None else argv
    debug = "--debug" in arguments
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        cli.main(args=arguments, prog_name="cmfr", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        _report("interrupted")
        sys.exit(130)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "cmfr"
        _report(f"{_escape(error.format_message())} (see '{command} --help')")
        sys.exit(2)
    except click.ClickException as error:
        _report(_escape(error.format_message()))
        sys.exit(error.exit_code)
    except CmfrError as error:
        if debug:
            traceback.print_exc()
        _report(_escape(str(error)))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        _report("interrupted")
        sys.exit(130)
    except Terminated:
        _report("terminated")
        sys.exit(143)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - the last resort must not show a traceback
        if debug:
            traceback.print_exc()
        _report(_escape(f"internal error: {type(error).__name__}: {error} (run 'cmfr --debug ...' for the traceback)"))
        sys.exit(1)
