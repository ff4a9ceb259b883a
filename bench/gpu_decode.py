"""Decode speed of both generative profiles: seconds per image, images/s, and the FLOP floor.

Full mode (a GPU): builds ``ldm-semantic-512`` and ``sd15-controlnet-seg`` at full size
from configs with random weights (speed does not depend on weight values, so no
download), fp16, 512×512, batch 1 and 8, for the paper's schedule (LDM: 200 DDIM
steps from 70 % of T, guidance 2) and the fast defaults (SD: DPM-Solver++ 20 steps
at strength 0.8, LCM 4 steps). The FLOP floor is UNet+ControlNet GFLOP per call
(counted with ``torch.utils.flop_counter``) × calls ÷ the measured fp16 matmul rate.

Precision (``--precision``): the same full-size random-weight modules called once per dtype:
LDM UNet step and VQ decode, SD UNet+ControlNet step and VAE decode. Each half-precision
output (fp16, bf16; weights rounded from the same fp32 ones) is compared with the fp32
output of the same call: relative L2 difference and max |difference| / max |fp32 output|,
next to the time per call and its ratio to fp32 measured in the same run. The LDM was
trained and sampled in fp32, so this says what a half-precision decode changes. On a GPU
it runs at full size (LDM latent 128², SD latent 64²). ``--precision --smoke`` runs the LDM
parts on the CPU at latent 16² (this CPU has no native bf16/fp16, so only the differences
mean something there) and writes ``gpu_decode-precision-cpu.md``.

Tiny mode (``--tiny``, CPU): the tiny random-weight models of :mod:`sgcformat.testing`
through the public ``sgcformat.decode`` path, 64×64, as a regression figure.

Writes a Markdown table to ``bench/results/gpu_decode[-tiny|-precision|-precision-cpu].md``
(machine and date included). Targets on one H100: LDM paper schedule ≤ 3 s/image; SD fast
default ≤ 0.5 s/image.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU, {torch.get_num_threads()} threads (torch {torch.__version__})"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats: int) -> float:
    """Median wall seconds of ``fn()`` after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_tflops(device: str, dtype) -> float:
    n = 8192 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: a @ b, 10)
    return 2 * n**3 / seconds / 1e12


def gflop(module, *args, **kwargs) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(*args, **kwargs)
    return counter.get_total_flops() / 1e9


# --- full-size models from configs ---------------------------------------------------------


def full_ldm(device, dtype):
    from diffusers import DDIMScheduler, UNet2DModel, VQModel

    from sgcformat.models.ldm import LDMSemanticSynthesisPipeline, SegmentationChannelMapper

    unet = UNet2DModel(
        sample_size=128, in_channels=6, out_channels=3, block_out_channels=(128, 512, 1024),
        layers_per_block=2, down_block_types=("DownBlock2D",) * 3, up_block_types=("UpBlock2D",) * 3,
        attention_head_dim=128,
    )
    vqvae = VQModel(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(128, 256, 512),
        layers_per_block=2, latent_channels=3, num_vq_embeddings=8192, vq_embed_dim=3,
        scaling_factor=1.0,
    )
    scheduler = DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0205, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
    )
    pipe = LDMSemanticSynthesisPipeline(unet=unet, vqvae=vqvae,
                                        channel_mapper=SegmentationChannelMapper(), scheduler=scheduler)
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sd_modules():
    """The SD 1.5 UNet, a ControlNet of its shape and the SD VAE, random weights, fp32 on CPU."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel(  # the SD 1.5 UNet config
        sample_size=64, cross_attention_dim=768, attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2, sample_size=512, scaling_factor=0.18215,
    )
    return unet, ControlNetModel.from_unet(unet), vae


def full_sd(device, dtype, root: Path):
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionControlNetImg2ImgPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from sgcformat.testing import _tiny_clip_tokenizer

    unet, controlnet, vae = sd_modules()
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77))
    _tiny_clip_tokenizer(root / "tokenizer")  # token ids do not change the cost: prompts pad to 77
    scheduler = DPMSolverMultistepScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", algorithm_type="dpmsolver++",
    )
    pipe = StableDiffusionControlNetImg2ImgPipeline(
        vae=vae, text_encoder=text, tokenizer=CLIPTokenizer.from_pretrained(root / "tokenizer"),
        unet=unet, controlnet=controlnet, scheduler=scheduler, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_full(repeats: int, smoke: bool = False) -> list[dict]:
    """The GPU benchmark; ``smoke`` runs the same code on the CPU at 128² with 2-4 steps, batch 1.

    The smoke run proves the full-size construction and call path before GPU time is spent on it;
    its timings mean nothing.
    """
    from diffusers import LCMScheduler
    from PIL import Image

    device, dtype = ("cpu", torch.float32) if smoke else ("cuda", torch.float16)
    size, batches, step_scale = (128, (1,), 0.02) if smoke else (512, (1, 8), 1.0)
    rate = matmul_tflops(device, dtype)
    rows = []
    labels = torch.randint(0, 182, (size, size))
    color = torch.rand(3, size, size) * 2 - 1

    ldm = full_ldm(device, dtype)
    ldm_gflop = gflop(ldm.unet, torch.randn(1, 6, 128, 128, device=device, dtype=dtype),
                      torch.tensor([500], device=device))
    for batch in batches:
        gens = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]

        def call(batch=batch, gens=gens, ldm=ldm):
            ldm(labels[None].expand(batch, -1, -1), color[None].expand(batch, -1, -1, -1),
                strength=0.7, num_inference_steps=max(2, round(200 * step_scale)), guidance_scale=2.0,
                generator=gens)

        seconds = timed(call, repeats)
        calls = 140 * 2 * batch  # 140 steps, guided: two UNet evaluations per sample
        rows.append(row("ldm-semantic-512", "paper: DDIM 200 @ 0.7, g=2", batch, seconds,
                        ldm_gflop * calls / batch, rate))
    del ldm
    if device == "cuda":
        torch.cuda.empty_cache()

    with tempfile.TemporaryDirectory() as tmp:
        sd = full_sd(device, dtype, Path(tmp))
    emb = torch.randn(1, 77, 768, device=device, dtype=dtype)
    latent = torch.randn(1, 4, 64, 64, device=device, dtype=dtype)
    t = torch.tensor([500], device=device)
    cond = torch.randn(1, 3, 512, 512, device=device, dtype=dtype)
    sd_gflop = gflop(sd.unet, latent, t, encoder_hidden_states=emb) + gflop(
        sd.controlnet, latent, t, encoder_hidden_states=emb, controlnet_cond=cond)
    init = Image.fromarray(np.full((size, size, 3), 128, np.uint8))
    modes = [("fast default: DPM++ 20 @ 0.8, g=7", 20, 7.0, 16 * 2)]
    base_scheduler = sd.scheduler
    for name, steps, guidance, unet_calls in [*modes, ("LCM-LoRA: 4 steps, g=1", 4, 1.0, 3)]:
        sd.scheduler = (LCMScheduler.from_config(base_scheduler.config) if "LCM" in name
                        else base_scheduler)
        steps = max(2, round(steps * step_scale)) if smoke else steps
        for batch in batches:
            gens = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]

            def call(batch=batch, gens=gens, steps=steps, guidance=guidance):
                sd(prompt=["a photo of sky, tree"] * batch, image=[init] * batch,
                   control_image=[init] * batch, strength=0.8, num_inference_steps=steps,
                   guidance_scale=guidance, generator=gens, height=size, width=size)

            seconds = timed(call, repeats)
            rows.append(row("sd15-controlnet-seg", name, batch, seconds, sd_gflop * unet_calls, rate))
    return rows


def row(profile, schedule, batch, seconds, gflop_per_image, tflops) -> dict:
    return dict(profile=profile, schedule=schedule, batch=batch, s_per_image=seconds / batch,
                images_per_s=batch / seconds, floor_s=gflop_per_image / 1e3 / tflops)


# --- precision: half-precision outputs against fp32 -------------------------------------


class ControlledUNet(torch.nn.Module):
    """One SD denoising call: the ControlNet's residuals fed into the UNet."""

    def __init__(self, unet, controlnet):
        super().__init__()
        self.unet, self.controlnet = unet, controlnet

    def forward(self, latent, t, emb, cond):
        down, mid = self.controlnet(latent, t, encoder_hidden_states=emb, controlnet_cond=cond,
                                    return_dict=False)
        return self.unet(latent, t, encoder_hidden_states=emb, down_block_additional_residuals=down,
                         mid_block_additional_residual=mid).sample


def precision_cases(ldm_side: int, sd_side: int | None) -> list[tuple]:
    """(part, input shape, fp32 module on CPU, inputs, call) for every measured call."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ldm = full_ldm("cpu", torch.float32)
    s = ldm_side
    cases = [
        ("ldm-semantic-512", "UNet step (t=696)", f"1x6x{s}x{s}", ldm.unet,
         (torch.randn(1, 6, s, s, generator=g), torch.tensor([696])),
         lambda m, x, t: m(x, t).sample),
        ("ldm-semantic-512", "VQ decode", f"1x3x{s}x{s} -> {4 * s}²", ldm.vqvae,
         (torch.randn(1, 3, s, s, generator=g),), lambda m, z: m.decode(z).sample),
    ]
    if sd_side is not None:
        unet, controlnet, vae = sd_modules()
        s = sd_side
        cases += [
            ("sd15-controlnet-seg", "UNet+ControlNet step (t=500)", f"1x4x{s}x{s}",
             ControlledUNet(unet, controlnet),
             (torch.randn(1, 4, s, s, generator=g), torch.tensor([500]),
              torch.randn(1, 77, 768, generator=g), torch.rand(1, 3, 8 * s, 8 * s, generator=g)),
             lambda m, *a: m(*a)),
            ("sd15-controlnet-seg", "VAE decode", f"1x4x{s}x{s} -> {8 * s}²", vae,
             (torch.randn(1, 4, s, s, generator=g),), lambda m, z: m.decode(z).sample),
        ]
    return cases


def run_precision(device: str, dtypes: tuple[str, ...], ldm_side: int, sd_side: int | None,
                  repeats: int) -> list[dict]:
    """Time and output difference of each call in each dtype, fp32 being the reference."""
    from diffusers.utils import logging as diffusers_logging

    from sgcformat.models.loading import torch_dtype

    diffusers_logging.set_verbosity_error()  # its "cast with to()" advice, once per copy

    rows = []
    for profile, part, shape, module, inputs, call in precision_cases(ldm_side, sd_side):
        reference = None
        for name in ("fp32", *dtypes):
            dtype = torch_dtype(name)
            model = copy.deepcopy(module).to(device=device, dtype=dtype).eval()
            args = [a.to(device=device, dtype=dtype) if a.is_floating_point() else a.to(device)
                    for a in inputs]
            with torch.inference_mode():
                start = time.perf_counter()
                out = call(model, *args).float().cpu()  # also the warm-up call of timed()
                seconds = time.perf_counter() - start
                if repeats:
                    seconds = timed(lambda m=model, a=args, c=call: c(m, *a), repeats)
            if reference is None:
                reference, ref_seconds = out, seconds
            diff = out - reference
            rows.append(dict(
                profile=profile, part=part, shape=shape, dtype=name, seconds=seconds,
                speed_ratio=ref_seconds / seconds,
                rel_l2=float(diff.norm() / reference.norm()),
                rel_max=float(diff.abs().max() / reference.abs().max()),
                finite=bool(torch.isfinite(out).all()),
            ))
            del model
            if device == "cuda":
                torch.cuda.empty_cache()
    return rows


def precision_table(rows: list[dict], title: str, note: str) -> str:
    lines = [f"# {title}", "", f"- machine: {machine()}",
             f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}", "", note, "",
             "| profile | call | input | dtype | ms/call | speed vs fp32 | rel. L2 diff vs fp32 | "
             "max abs diff / max abs fp32 | finite |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['profile']} | {r['part']} | {r['shape']} | {r['dtype']} | "
                     f"{r['seconds'] * 1e3:.1f} | {r['speed_ratio']:.3f}x | "
                     f"{r['rel_l2']:.2e} | {r['rel_max']:.2e} | {'yes' if r['finite'] else 'NO'} |")
    return "\n".join(lines) + "\n"


PENDING_PRECISION = [
    "", "## GPU precision (full size: LDM latent 128², SD latent 64²; fp16 and bf16 against fp32)", "",
    "| profile | call | dtype | ms/call | speed vs fp32 | rel. L2 diff vs fp32 | max abs diff |",
    "|---|---|---|---:|---:|---:|---:|",
    *(f"| {p} | {c} | {d} | pending | pending | pending | pending |"
      for p, c in (("ldm-semantic-512", "UNet step"), ("ldm-semantic-512", "VQ decode"),
                   ("sd15-controlnet-seg", "UNet+ControlNet step"), ("sd15-controlnet-seg", "VAE decode"))
      for d in ("fp16", "bf16")),
    "", "Run `python bench/gpu_decode.py --precision` on a CUDA machine to fill these rows "
    "(it writes bench/results/gpu_decode-precision.md).",
]


# --- tiny models on CPU ---------------------------------------------------------------------


def run_tiny(repeats: int) -> list[dict]:
    import sgcformat
    from sgcformat.testing import build_tiny_models, use_tiny_models

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_models(tmp)
        with use_tiny_models(tmp):
            for profile, vocab, n in (("ldm-semantic-512", "coco-stuff-182", 182),
                                      ("sd15-controlnet-seg", "ade20k-150", 150)):
                image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
                labels = np.repeat(np.arange(8, dtype=np.uint8) % n, 512).reshape(64, 64)
                offset = 1 if vocab == "ade20k-150" else 0
                sgc = sgcformat.encode(image, labels=labels + offset, vocab=vocab)
                for steps in (4, 20):
                    seconds = timed(lambda sgc=sgc, steps=steps: sgcformat.decode(
                        sgc, steps=steps, use_cache=False), repeats)
                    rows.append(dict(profile=profile, schedule=f"tiny, {steps} steps, 64x64", batch=1,
                                     s_per_image=seconds, images_per_s=1 / seconds, floor_s=None))
    return rows


def table(rows: list[dict], title: str, pending: bool) -> str:
    lines = [f"# {title}", "", f"- machine: {machine()}",
             f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}", "",
             "| profile | schedule | batch | s/image | images/s | FLOP floor s/image |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        floor = "-" if r["floor_s"] is None else f"{r['floor_s']:.3f}"
        lines.append(f"| {r['profile']} | {r['schedule']} | {r['batch']} | {r['s_per_image']:.3f} | "
                     f"{r['images_per_s']:.2f} | {floor} |")
    if pending:
        lines += [
            "",
            "## GPU (full size, fp16, 512×512)",
            "",
            "| profile | schedule | batch | s/image | images/s | FLOP floor s/image |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for profile, schedule in (("ldm-semantic-512", "paper: DDIM 200 @ 0.7, g=2"),
                                  ("sd15-controlnet-seg", "fast default: DPM++ 20 @ 0.8, g=7"),
                                  ("sd15-controlnet-seg", "LCM-LoRA: 4 steps, g=1")):
            for batch in (1, 8):
                lines.append(f"| {profile} | {schedule} | {batch} | pending (no GPU run yet) | "
                             "pending | pending |")
        lines += ["", "Run `python bench/gpu_decode.py` on a CUDA machine to fill these rows."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on CPU (regression figure)")
    parser.add_argument("--smoke", action="store_true",
                        help="full-size models on the CPU at 128², a few steps: checks the script only")
    parser.add_argument("--precision", action="store_true",
                        help="fp16/bf16 output difference against fp32, and speed (with --smoke: CPU, bf16)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (args.tiny or args.smoke) and not torch.cuda.is_available():
        parser.error("full-size mode needs a CUDA GPU; use --tiny or --smoke on CPU")
    RESULTS.mkdir(exist_ok=True)
    if args.precision:
        write_precision(smoke=args.smoke, repeats=args.repeats)
        return
    if args.smoke:
        rows = run_full(1, smoke=True)
        print(table(rows, "Smoke run: full-size models on the CPU at 128² (timings mean nothing)", False))
        return
    if args.tiny:
        rows = run_tiny(args.repeats)
        text = table(rows, "Decode speed: tiny random-weight models on CPU (regression figure)", True)
        out = RESULTS / "gpu_decode-tiny.md"
    else:
        rows = run_full(args.repeats)
        text = table(rows, "Decode speed: full-size models, random weights, fp16", False)
        out = RESULTS / "gpu_decode.md"
    out.write_text(text)
    print(text)


def write_precision(smoke: bool, repeats: int) -> None:
    if smoke:
        rows = run_precision("cpu", ("fp16", "bf16"), ldm_side=16, sd_side=None, repeats=0)
        title = "Precision on the CPU: full-size LDM modules, random weights, latent 16², fp16/bf16 vs fp32"
        note = ("CPU only (no GPU here), measured with the CPU's kernels: this CPU has no native "
                "fp16/bf16, so ms/call is one first call each and not a speed figure; the differences "
                "are what half-precision weights and activations do to these calls. The SD parts "
                "(~5 GB of fp32 weights, copied per dtype) do not fit this shared machine. GPU rows "
                "(full size, both profiles): below, pending.")
        out = RESULTS / "gpu_decode-precision-cpu.md"
    else:
        rows = run_precision("cuda", ("fp16", "bf16"), ldm_side=128, sd_side=64, repeats=repeats)
        title = "Precision on the GPU: full-size modules, random weights, fp16/bf16 vs fp32"
        note = "Speed ratio = fp32 ms/call ÷ this dtype's ms/call, both measured in this run."
        out = RESULTS / "gpu_decode-precision.md"
    text = precision_table(rows, title, note)
    if smoke:
        text += "\n".join(PENDING_PRECISION) + "\n"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
