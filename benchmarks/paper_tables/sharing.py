"""Feature sharing between the heatmap network and the spatial relation network, seed 000 supplement
Table 5 (``table_supp5``), and the FLOP counter it uses (``count_flops``)."""
from __future__ import annotations

import itertools

import numpy as np

from .claims import Claims, _budget_reason, _detail, _paired, fmt, fmt_rel, md_table
from .run import Run, _run_pose
from .settings import PAPER


# ============================================================== FLOPs
def count_flops(fn, *args) -> int:
    """FLOPs of ``fn(*args)`` by :class:`torch.utils.flop_counter.FlopCounterMode`
    (convolutions, transposed convolutions and matrix products; a multiply-add is 2 FLOPs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())



# ============================================================== supplement Table 5
def table_supp5(run: Run) -> dict:
    import torch

    from trt_tracker.models import build_model, count_parameters
    from trt_tracker.models.backbone import ResNetConfig
    from trt_tracker.models.sharing import SharedFeatureRelationNet, total_parameters

    s = run.s
    pose = run.net(run.pose_cfg("integral"))
    none = run.net(run.relation_cfg("spatial"))        # no sharing = Table 2's ours (same config and budget)
    m = run.relation_cfg("spatial").model
    x = torch.zeros(1, 3, m.input_size, m.input_size)
    rel = torch.full((1, m.K, 2), m.heatmap_size / 2)
    res = {}
    for share in ("none", "shallow", "deep", "all"):
        net = none if share == "none" else run.shared_net(share)
        if share == "none":
            params = count_parameters(pose) + count_parameters(net)
            flops = count_flops(pose, x) + count_flops(net, x, rel)
        else:
            params, flops = total_parameters(net), count_flops(net.forward_both, x, rel)
        res[share] = {"bone": run.bone_error(run.bones(net)), "params": params, "flops": flops}
    # The same four architectures at the paper's size (ResNet-50, 256 px; untrained: counts only).
    paper_size = None
    if not s.quick:
        from trt_tracker.train import PRESETS

        pm, sm = PRESETS["body-full-pose"].model, PRESETS["body-full-spatial"].model
        torch.manual_seed(0)
        fpose, fspatial = build_model(pm).eval(), build_model(sm).eval()
        X = torch.zeros(1, 3, pm.input_size, pm.input_size)
        R = torch.full((1, sm.K, 2), sm.heatmap_size / 2)
        paper_size = {"none": {"params": count_parameters(fpose) + count_parameters(fspatial),
                               "flops": count_flops(fpose, X) + count_flops(fspatial, X, R)}}
        for share in ("shallow", "deep", "all"):
            n = SharedFeatureRelationNet(fpose, share, ResNetConfig(sm.depth, sm.width, sm.in_channels), sm.K, sm.dims,
                                         sm.head_channels, sm.n_deconv, sm.heatmap_size).eval()
            paper_size[share] = {"params": total_parameters(n), "flops": count_flops(n.forward_both, X, R)}
    # The frozen heatmap network's own accuracy (context).
    from trt_tracker.evaluate import to_cam
    from trt_tracker.metrics import mpjpe

    c = run.relation_codec()
    pe = []
    for i in range(s.test_sequences):
        inp = run.spatial_inputs(i)
        Jn = _run_pose(pose, inp["X"])
        J = np.stack([c.decode_points(Jn[t], inp["tfs"][t]) for t in range(len(Jn))])
        pe.append(mpjpe(to_cam(inp["seq"], J), inp["seq"].joints_cam))
    pose_mpjpe = float(np.mean(pe))
    P = PAPER["supp5"]
    b0, p0, f0 = res["none"]["bone"]["mean"], res["none"]["params"], res["none"]["flops"]
    names = {"none": "None", "shallow": "Shallow", "deep": "Deep", "all": "All"}
    rows = [["Bone Error (mm)"] + [f"{fmt(res[k]['bone']['mean'])} "
                                   f"{fmt_rel(res[k]['bone']['mean'], b0) if k != 'none' else ''}"
                                   for k in names],
            ["Params"] + [f"{res[k]['params'] / 1e6:.3f}M {fmt_rel(res[k]['params'], p0) if k != 'none' else ''}"
                          for k in names],
            ["FLOPs"] + [f"{res[k]['flops'] / 1e6:.1f}M {fmt_rel(res[k]['flops'], f0) if k != 'none' else ''}"
                         for k in names]]
    if paper_size:
        q0 = paper_size["none"]
        rows += [["Params, paper size (ResNet-50, 256 px)"] + [
                     f"{paper_size[k]['params'] / 1e6:.1f}M "
                     f"{fmt_rel(paper_size[k]['params'], q0['params']) if k != 'none' else ''}"
                     for k in names],
                 ["FLOPs, paper size"] + [
                     f"{paper_size[k]['flops'] / 1e9:.2f}G "
                     f"{fmt_rel(paper_size[k]['flops'], q0['flops']) if k != 'none' else ''}"
                     for k in names]]
    rows += [["paper Bone Error"] + [f"{P['bone'][k]} {fmt_rel(P['bone'][k], P['bone']['none']) if k != 'none' else ''}"
                                     for k in names],
             ["paper Params / FLOPs"] + [f"{P['params_M'][k]}M / {P['gflops'][k]}G" for k in names]]
    md = [("Feature sharing between the heatmap (pose) network and the spatial relation network. The heatmap "
          f"network (integral, {s.pose_steps} steps; its own MPJPE {fmt(pose_mpjpe)} mm) is trained first and "
          f"frozen; each branch is then trained for {s.relation_steps} steps (None = Table 2's ours, a separate "
          "network with the same budget). Shallow shares ResNet conv1 + conv2_x, Deep the whole backbone, All the "
          "backbone and the deconvolutions (branching at the last 1x1 convolution). Params and FLOPs are for the "
          "pose and relation networks together at batch 1 (FlopCounterMode: convolutions and matrix products, "
          "multiply-add = 2 FLOPs). Bone Error pools at the shipped pose network's predicted parents, as in t2."), ""]
    md += md_table(["share methods"] + list(names.values()), rows)
    why = _budget_reason(run, s.relation_steps)
    cl = Claims(why)
    cl.check("Shallow sharing is at least as good as None", res["shallow"]["bone"]["mean"] <= b0,
             _detail(res["shallow"]["bone"]["mean"], b0,
                     _paired(res["shallow"]["bone"]["per_sequence"], res["none"]["bone"]["per_sequence"])),
             "the branch inherits features of a heatmap network that itself had a tiny budget; " + why)
    cl.check("Deep sharing is worse than None", res["deep"]["bone"]["mean"] > b0,
             f"{fmt(res['deep']['bone']['mean'])} vs {fmt(b0)}",
             "with so little training a fresh backbone has learnt less than the frozen pose backbone, so reusing "
             "it helps more than its task-specific semantics hurt; " + why)
    cl.check("All (sharing up to the last 1x1 convolution) is the worst",
             max(res, key=lambda k: res[k]["bone"]["mean"]) == "all",
             f"worst: {names[max(res, key=lambda k: res[k]['bone']['mean'])]}")
    order = [res[k]["params"] for k in names]
    cl.check("Params: None > Shallow > Deep > All", all(a > b for a, b in itertools.pairwise(order)))
    order = [res[k]["flops"] for k in names]
    cl.check("FLOPs: None > Shallow > Deep > All", all(a > b for a, b in itertools.pairwise(order)))
    return {"results": res, "paper_size": paper_size, "pose_mpjpe": pose_mpjpe, "claims": cl.items,
            "markdown": md + [""] + cl.markdown()}

