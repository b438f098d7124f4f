import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command loads (a few tenths of a second): one sentence, no traceback
    print("interrupted: osmis stopped before it began; nothing was written", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
