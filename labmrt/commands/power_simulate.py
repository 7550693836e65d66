"""``labmrt power --simulate``: power of the study as designed, by simulation.

The closed form answers a marginal effect with known probabilities; this
answers what the protocol actually does (state-dependent probabilities,
several arms, moderation), by simulating whole studies through the
protocol's randomizer and analyzing each as the real analysis will.
"""

from __future__ import annotations

import json

from labmrt.errors import LabmrtError, Problem


def run_simulation(args) -> int:
    from labmrt.commands.robustness import ProgressBar
    from labmrt.powersim.effects import load_effects
    from labmrt.powersim.run import describe, parse_ns, plot_power, simulate_power
    from labmrt.protocol import load_protocol

    if not args.simulate or not args.effects:
        raise LabmrtError(
            Problem(
                "--simulate",
                "needs both the protocol and the effects file",
                "give --simulate PROTOCOL --effects EFFECTS.toml",
            )
        )
    if args.n is None:
        raise LabmrtError(Problem("--n", "is required with --simulate", "e.g. --n 20:80:10"))
    if args.workers < 1:
        raise LabmrtError(Problem("--workers", f"is {args.workers}", "give 1 or more"))
    protocol = load_protocol(args.simulate)
    effects = load_effects(args.effects, protocol)
    ns = parse_ns(args.n)
    progress = None if args.json else ProgressBar(label="trials")
    result = simulate_power(
        protocol,
        effects,
        ns,
        args.trials,
        alpha=args.alpha,
        target=args.power,
        seed=args.seed,
        null_trials=args.null_trials,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=progress,
    )
    if args.plot:
        plot_power(result, args.plot)
    if args.json:
        out = result.to_dict()
        out["protocol"] = str(args.simulate)
        out["protocol_hash"] = protocol.content_hash
        out["effects"] = str(args.effects)
        if args.plot:
            out["plot"] = str(args.plot)
        print(json.dumps(out))
        return 0
    print("\n".join(describe(result)))
    if args.plot:
        print(f"plot: {args.plot}")
    return 0
