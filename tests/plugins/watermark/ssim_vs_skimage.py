#!/usr/bin/python3
"""watermark.ssim and watermark.psnr against scikit-image on real photographs.
Usage: ssim_vs_skimage.py PIPETTE. Skips (77) without skimage or torch."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import torch
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

pipette = sys.argv[1]
work = tempfile.mkdtemp()
script = os.path.join(work, "ssim.pipe")
with open(script, "w") as f:
    f.write('plugin "watermark"\n'
            'let x = data.images(names=["astronaut.png", "coffee.png", "chelsea.png"], size=96).images\n'
            'let y = watermark.distort(watermark.distort(x, "jpeg", 30), "noise", 0.02)\n'
            'save(x, "x.pt")\n'
            'save(y, "y.pt")\n'
            'report "ssim" = watermark.ssim(x, y)\n'
            'report "psnr" = watermark.psnr(x, y)\n')
env = dict(os.environ, PIPETTE_REGISTRY=os.path.join(work, "registry.xml"))
env.pop("PIPETTE_PLUGIN_PATH", None)
r = subprocess.run([pipette, "run", script, "--out", os.path.join(work, "out"), "--no-cache"],
                   env=env, capture_output=True, text=True)
if r.returncode != 0:
    print(r.stdout, r.stderr)
    sys.exit(1)
out = os.path.join(work, "out")
x = torch.load(os.path.join(out, "x.pt")).double().numpy()
y = torch.load(os.path.join(out, "y.pt")).double().numpy()
ours_ssim = torch.load(os.path.join(out, "reports", "ssim.pt")).tolist()
ours_psnr = torch.load(os.path.join(out, "reports", "psnr.pt")).tolist()
fail = 0
for i in range(x.shape[0]):
    s = structural_similarity(x[i], y[i], channel_axis=0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, data_range=1.0)
    p = peak_signal_noise_ratio(x[i], y[i], data_range=1.0)
    print(f"image {i}: ssim {ours_ssim[i]:.6f} vs skimage {s:.6f}; psnr {ours_psnr[i]:.4f} vs {p:.4f}")
    if abs(ours_ssim[i] - s) > 1e-5 or abs(ours_psnr[i] - p) > 1e-3:
        fail = 1
print("FAIL" if fail else "ok")
sys.exit(fail)
