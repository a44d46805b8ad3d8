// data.*: data sets that ship with Debian, and tensors from files.
#include <ATen/ATen.h>
#include <zlib.h>

#include <memory>

#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Reads a gzip'd (or plain) IDX file: big-endian magic and sizes, then bytes.
at::Tensor read_idx(const std::filesystem::path& path, int expected_dims, int64_t limit) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw OpError("cannot open '" + path.string() + "' (is dataset-fashion-mnist installed?)");
  auto read_u32 = [&]() {
    unsigned char b[4];
    if (gzread(f.get(), b, 4) != 4) throw OpError("'" + path.string() + "' is truncated");
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
  };
  uint32_t magic = read_u32();
  if ((magic >> 8) != 0x08 || static_cast<int>(magic & 0xff) != expected_dims)
    throw OpError("'" + path.string() + "' is not an IDX file of unsigned bytes with " + std::to_string(expected_dims) +
                  " dimensions");
  std::vector<int64_t> shape;
  for (int i = 0; i < expected_dims; ++i) shape.push_back(read_u32());
  if (limit > 0 && limit < shape[0]) shape[0] = limit;
  at::Tensor t = at::empty(shape, at::kByte);
  int64_t bytes = t.numel();
  auto* p = static_cast<char*>(t.data_ptr());
  while (bytes > 0) {
    int chunk = static_cast<int>(std::min<int64_t>(bytes, 1 << 30));
    int got = gzread(f.get(), p, chunk);
    if (got <= 0) throw OpError("'" + path.string() + "' is truncated");
    p += got;
    bytes -= got;
  }
  return t;
}

}  // namespace

void register_data(OpLibrary& lib) {
  lib.define(OpSignature("data.fashion_mnist",
                         "Fashion-MNIST from Debian's dataset-fashion-mnist (idx files under "
                         "/usr/share/datasets/fashion-mnist). Images are float in [0, 1], shape [N, 1, 28, 28].")
                 .param("split", "string", Operand::string("train"), "train (60,000 images) or test (10,000)")
                 .choices({"train", "test"})
                 .optional("limit", "int", "Keep only the first LIMIT examples")
                 .range(1)
                 .param("root", "string", Operand::string("/usr/share/datasets/fashion-mnist"),
                        "Directory of the idx files")
                 .compile_time()
                 .returns("record{images: tensor, labels: tensor}", "images [N,1,28,28] float, labels [N] int64"),
             [](const OpArgs& a, OpContext& ctx) {
               std::string prefix = a.string("split") == "train" ? "train" : "t10k";
               std::filesystem::path root = ctx.input_path(a.string("root"));
               int64_t limit = a.is_none("limit") ? 0 : a.int_("limit");
               at::Tensor images = read_idx(root / (prefix + "-images-idx3-ubyte.gz"), 3, limit);
               at::Tensor labels = read_idx(root / (prefix + "-labels-idx1-ubyte.gz"), 1, limit);
               if (images.size(0) != labels.size(0)) throw OpError("images and labels differ in count");
               return make_record({{"images", Value(images.to(at::kFloat).div_(255.0).unsqueeze(1))},
                                   {"labels", Value(labels.to(at::kLong))}});
             });
}

}  // namespace pipette::stdlib
