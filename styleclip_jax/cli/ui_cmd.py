"""``styleclip-jax ui``: start the browser editor."""

from __future__ import annotations

from styleclip_jax.cli.options import PORT, load_region_parser


def add_ui(sub):
    p = sub.add_parser("ui", help="interactive editor in the browser (Gradio); no model arguments: the toy world")
    p.add_argument("--generator", default=None, help="generator folder (default: the bundled toy world)")
    p.add_argument("--clip", default=None, help="CLIP folder (with --generator)")
    p.add_argument("--stats", default=None, help="StyleSpace stats with fs3, for global directions")
    p.add_argument("--mapper", nargs="*", default=[], help="mapper folders (the Mapper tab lists them by name)")
    p.add_argument("--idnet", default=None, help="IR-SE50 folder, enables λ_ID in the Optimization tab")
    p.add_argument(
        "--parser",
        default=None,
        help="face-parser folder: name regions (hair, face, ...) in the region box (the toy world: object, background)",
    )
    p.add_argument("--encoder", default=None, help="e4e encoder folder: enables photo upload (see `convert encoder`)")
    p.add_argument(
        "--lpips", default=None, help="LPIPS folder (or 'random') for PTI on uploaded photos (else PTI uses L2 only)"
    )
    p.add_argument(
        "--faithful",
        action="store_true",
        help="start global directions with StyleCLIP's own settings (fs3, every layer) instead of the toy "
        "world's best measured ones (the toy world only)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes it to your network)")
    p.add_argument("--port", type=PORT, default=7860)
    p.set_defaults(func=run_ui)


def _stop(signum, frame):
    raise SystemExit(128 + signum)


def run_ui(args):
    import os
    import signal
    import tempfile

    from styleclip_jax.errors import InputError

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    check_listen(args.host, args.port)  # before any model loads
    signal.signal(signal.SIGTERM, _stop)  # a service manager's stop: the temporary folder is removed too
    with tempfile.TemporaryDirectory(prefix="styleclip_ui_") as tmp:  # every file the page writes, removed at exit
        os.environ["GRADIO_TEMP_DIR"] = os.path.join(tmp, "gradio")  # read when Gradio is imported: set first
        try:
            from styleclip_jax.ui.app import build_app, session_from_folders, toy_world_defaults
        except ImportError as e:
            raise InputError(f"the browser editor needs Gradio: pip install 'styleclip-jax[ui]' ({e})") from None
        session = session_from_folders(
            args.generator, args.clip, args.stats, args.mapper, args.idnet, args.encoder, args.lpips
        )
        toy = args.generator is None and not args.faithful
        # names regions: the given parser; on the toy world, its object / background
        named = args.parser or args.generator is None
        region_parser = load_region_parser(args.parser or "toyworld") if named else None
        app = build_app(
            session,
            out_dir=os.path.join(tmp, "edits"),
            defaults=toy_world_defaults(session.gen) if toy else None,
            region_parser=region_parser,
            align_photos=args.generator is not None,  # the toy world's scenes hold no face
        )
        print(f"styleclip-jax editor on http://{args.host}:{args.port} (Ctrl-C to stop; files in {tmp})", flush=True)
        app.queue().launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            show_error=False,
            quiet=True,
            max_file_size="64mb",
        )
    raise KeyboardInterrupt  # launch returns only once Ctrl-C stopped the server: exit 130


def check_listen(host: str, port: int) -> None:
    """Refuse an address this machine cannot listen on, in one line naming --host / --port."""
    import socket

    from styleclip_jax.errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InputError(f"--host {host!r}: not an address or name this machine can resolve") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind(addr)
        except OSError as e:
            raise InputError(f"cannot listen on --host {host} --port {port}: {e.strerror}") from None
