"""Random documents of exactly N words for bench/lm/run.sh (torch.save'd list of strings)."""
import sys
import torch

out, docs, words, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
g = torch.Generator().manual_seed(0)
rows = torch.randint(0, vocab, (docs, words), generator=g).tolist()
torch.save([" ".join(f"w{i}" for i in r) for r in rows], out)
