#include "stdlib/data/captioned.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <sstream>

#include "engine/op_impl.hpp"
#include "engine/suggest.hpp"
#include "engine/vocabulary.hpp"

namespace pipette::stdlib {

const std::vector<std::pair<std::string, std::array<double, 3>>>& palette() {
  // Far apart in RGB, so that a probe (or a person) tells them apart at 16 px.
  static const std::vector<std::pair<std::string, std::array<double, 3>>> p{
      {"red", {1.0, 0.15, 0.1}},    {"green", {0.1, 0.85, 0.2}},  {"blue", {0.15, 0.3, 1.0}},
      {"yellow", {1.0, 0.9, 0.1}},  {"cyan", {0.1, 0.9, 0.9}},    {"magenta", {0.9, 0.1, 0.9}},
      {"orange", {1.0, 0.55, 0.0}}, {"purple", {0.5, 0.15, 0.8}}, {"white", {1.0, 1.0, 1.0}},
      {"grey", {0.5, 0.5, 0.5}}};
  return p;
}

const std::vector<std::string>& fashion_mnist_words() {
  static const std::vector<std::string> w{"tshirt", "trouser", "pullover", "dress", "coat",
                                          "sandal", "shirt",   "sneaker",  "bag",   "boot"};
  return w;
}

namespace {

constexpr const char* kPad = "<pad>";
const std::vector<std::string> kPatterns{"plain", "striped", "checked"};
const std::vector<std::string> kPositions{"left", "right", "top", "bottom", "center"};
const std::vector<std::string> kScales{"small", "large"};

void check_values(const std::vector<std::string>& given, const std::vector<std::string>& known,
                  const std::string& what) {
  for (const auto& v : given)
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      std::string all = fmt::format("{}", fmt::join(known, ", "));
      auto near = closest(v, known);
      throw OpError(fmt::format("no {} '{}'{} (the {}s: {})", what, v,
                                near ? fmt::format("; did you mean '{}'?", *near) : std::string(), what, all));
    }
}

int64_t index_of(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) - v.begin();
}

// A pattern as a multiplier of the garment's intensity on the canvas, [S, S].
at::Tensor pattern_mask(const std::string& name, int64_t s) {
  at::Tensor y = at::arange(s, at::kLong).view({-1, 1}).expand({s, s});
  at::Tensor x = at::arange(s, at::kLong).view({1, -1}).expand({s, s});
  at::Tensor on;
  if (name == "plain") return at::ones({s, s});
  if (name == "striped") on = (y.div(2, "floor") % 2).eq(0);
  else on = ((y.div(2, "floor") + x.div(2, "floor")) % 2).eq(0);  // checked
  return at::where(on, at::ones({s, s}), at::full({s, s}, 0.3));
}

}  // namespace

std::vector<std::string> caption_vocab(const CaptionedConfig& c) {
  std::vector<std::string> v{kPad, "a"};
  if (!c.positions.empty()) {
    v.push_back("on");
    v.push_back("the");
  }
  for (const auto* list : {&c.scales, &c.colours, &c.patterns, &c.classes, &c.positions})
    for (const auto& w : *list)
      if (std::find(v.begin(), v.end(), w) == v.end()) v.push_back(w);
  return v;
}

Captioned make_captioned(const at::Tensor& garments, const at::Tensor& labels, const CaptionedConfig& c,
                         at::Generator& gen) {
  if (garments.dim() != 4 || garments.size(1) != 1)
    throw OpError("the garments must be grayscale images [N, 1, H, W], found " + describe(Value(garments)));
  if (c.size < 8) throw OpError(fmt::format("a canvas of {} pixels is too small to draw on (at least 8)", c.size));
  std::vector<std::string> colour_names;
  for (const auto& [name, rgb] : palette()) colour_names.push_back(name);
  check_values(c.colours, colour_names, "colour");
  check_values(c.patterns, kPatterns, "pattern");
  check_values(c.positions, kPositions, "position");
  check_values(c.scales, kScales, "scale");
  int64_t n = garments.size(0), s = c.size;
  at::Tensor y = labels.to(at::kLong).reshape({-1});
  if (y.size(0) != n) throw OpError(fmt::format("{} labels for {} images", y.size(0), n));
  if (n > 0 && (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= static_cast<int64_t>(c.classes.size())))
    throw OpError(fmt::format("labels run from {} to {}, but there are {} class words", y.min().item<int64_t>(),
                              y.max().item<int64_t>(), c.classes.size()));
  auto draw = [&](const std::vector<std::string>& values) {
    return values.empty() ? at::zeros({n}, at::kLong)
                          : at::randint(0, static_cast<int64_t>(values.size()), {n}, gen, at::kLong);
  };
  Captioned out;
  out.colour = draw(c.colours);
  out.pattern = draw(c.patterns);
  out.position = draw(c.positions);
  out.scale = draw(c.scales);

  // The garment's intensity on the canvas: resized to its scale's box, pasted at its position.
  at::Tensor canvas = at::zeros({n, 1, s, s});
  at::Tensor src = garments.to(at::kFloat);
  for (int64_t k = 0; k < std::max<int64_t>(1, static_cast<int64_t>(c.scales.size())); ++k) {
    bool small = !c.scales.empty() && c.scales[static_cast<size_t>(k)] == "small";
    int64_t box = std::max<int64_t>(4, (s * (small ? 7 : 10) + 8) / 16);
    at::Tensor resized = at::adaptive_avg_pool2d(src, {box, box});
    for (int64_t p = 0; p < std::max<int64_t>(1, static_cast<int64_t>(c.positions.size())); ++p) {
      std::string where = c.positions.empty() ? "center" : c.positions[static_cast<size_t>(p)];
      at::Tensor idx = (out.scale.eq(k) & out.position.eq(p)).nonzero().view(-1);
      if (idx.numel() == 0) continue;
      int64_t margin = std::max<int64_t>(1, s / 16), mid = (s - box) / 2;
      int64_t x0 = where == "left" ? margin : where == "right" ? s - box - margin : mid;
      int64_t y0 = where == "top" ? margin : where == "bottom" ? s - box - margin : mid;
      at::Tensor block = canvas.index_select(0, idx);
      block.slice(2, y0, y0 + box).slice(3, x0, x0 + box).copy_(resized.index_select(0, idx));
      canvas.index_copy_(0, idx, block);
    }
  }
  std::vector<at::Tensor> masks;
  for (const auto& p : c.patterns.empty() ? std::vector<std::string>{"plain"} : c.patterns)
    masks.push_back(pattern_mask(p, s));
  at::Tensor mask = at::stack(masks).index_select(0, out.pattern).unsqueeze(1);  // [N, 1, S, S]
  std::vector<double> rgb_flat;
  for (const auto& name : c.colours.empty() ? std::vector<std::string>{"white"} : c.colours)
    for (double v : palette()[static_cast<size_t>(index_of(colour_names, name))].second) rgb_flat.push_back(v);
  at::Tensor rgb = at::tensor(rgb_flat, at::kDouble).to(at::kFloat).view({-1, 3});
  at::Tensor colour = rgb.index_select(0, out.colour).view({n, 3, 1, 1});
  out.images = (canvas * mask * colour).clamp(0, 1).contiguous();

  // Captions: "a [scale] [colour] [pattern] class [on the position]".
  out.vocab = c.vocab.empty() ? caption_vocab(c) : c.vocab;
  if (!c.vocab.empty()) {
    if (c.vocab.front() != kPad)
      throw OpError(fmt::format("vocab must start with '{}' (a data.captioned vocabulary), found '{}'", kPad,
                                c.vocab.front()));
    for (const auto& w : caption_vocab(c))
      if (std::find(c.vocab.begin(), c.vocab.end(), w) == c.vocab.end()) {
        auto near = closest(w, c.vocab);
        throw OpError(fmt::format("the caption word '{}' is not in vocab ({} words{})", w, c.vocab.size(),
                                  near ? fmt::format("; nearest '{}'", *near) : std::string()));
      }
  }
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < out.vocab.size(); ++i) id[out.vocab[i]] = static_cast<int64_t>(i);
  int64_t length = 2 + !c.scales.empty() + !c.colours.empty() + !c.patterns.empty() + 3 * !c.positions.empty();
  out.tokens = at::zeros({n, length}, at::kLong);
  auto* t = out.tokens.data_ptr<int64_t>();
  auto col = out.colour.accessor<int64_t, 1>(), pat = out.pattern.accessor<int64_t, 1>();
  auto pos = out.position.accessor<int64_t, 1>(), sca = out.scale.accessor<int64_t, 1>();
  auto lab = y.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t* row = t + i * length;
    int64_t j = 0;
    row[j++] = id["a"];
    if (!c.scales.empty()) row[j++] = id[c.scales[static_cast<size_t>(sca[i])]];
    if (!c.colours.empty()) row[j++] = id[c.colours[static_cast<size_t>(col[i])]];
    if (!c.patterns.empty()) row[j++] = id[c.patterns[static_cast<size_t>(pat[i])]];
    row[j++] = id[c.classes[static_cast<size_t>(lab[i])]];
    if (!c.positions.empty()) {
      row[j++] = id["on"];
      row[j++] = id["the"];
      row[j++] = id[c.positions[static_cast<size_t>(pos[i])]];
    }
  }
  return out;
}

at::Tensor tokenize(const std::vector<std::string>& texts, const std::vector<std::string>& vocab, int64_t length) {
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < vocab.size(); ++i) id[vocab[i]] = static_cast<int64_t>(i);
  std::vector<std::vector<int64_t>> rows;
  int64_t longest = 0;
  for (const auto& text : texts) {
    std::istringstream words(text);
    std::string w;
    std::vector<int64_t> row;
    while (words >> w) {
      std::transform(w.begin(), w.end(), w.begin(), [](unsigned char ch) { return std::tolower(ch); });
      auto it = id.find(w);
      if (it == id.end() || w == kPad) {
        throw OpError(fmt::format("the word '{}' in \"{}\" is not in the vocabulary (nearest: {}; {} words)",
                                  excerpt(w, 40), excerpt(text, 80), nearest_words(w, vocab), vocab.size() - 1));
      }
      row.push_back(it->second);
    }
    longest = std::max<int64_t>(longest, static_cast<int64_t>(row.size()));
    rows.push_back(std::move(row));
  }
  int64_t l = length > 0 ? length : longest;
  at::Tensor out = at::zeros({static_cast<int64_t>(rows.size()), l}, at::kLong);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<int64_t>(rows[i].size()) > l)
      throw OpError(fmt::format("\"{}\" has {} words; the model reads {}", excerpt(texts[i], 80), rows[i].size(), l));
    for (size_t j = 0; j < rows[i].size(); ++j) out[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = rows[i][j];
  }
  return out;
}

at::Tensor drop_word_ids(const at::Tensor& tokens, const std::vector<int64_t>& words) {
  at::Tensor t = tokens.to(at::kLong).contiguous();
  if (t.dim() == 1) t = t.unsqueeze(0);
  if (t.dim() != 2) throw OpError("tokens must be [N, L] word ids, found " + describe(Value(tokens)));
  at::Tensor out = at::zeros_like(t);
  auto in = t.accessor<int64_t, 2>();
  auto o = out.accessor<int64_t, 2>();
  for (int64_t i = 0; i < t.size(0); ++i)
    for (int64_t j = 0, k = 0; j < t.size(1); ++j)
      if (in[i][j] != 0 && std::find(words.begin(), words.end(), in[i][j]) == words.end()) o[i][k++] = in[i][j];
  return out;
}

std::vector<std::string> detokenize(const at::Tensor& tokens, const std::vector<std::string>& vocab) {
  at::Tensor t = tokens.to(at::kLong).contiguous();
  if (t.dim() == 1) t = t.unsqueeze(0);
  if (t.dim() != 2) throw OpError("tokens must be [N, L] word ids, found " + describe(Value(tokens)));
  std::vector<std::string> out;
  auto a = t.accessor<int64_t, 2>();
  for (int64_t i = 0; i < t.size(0); ++i) {
    std::string text;
    for (int64_t j = 0; j < t.size(1); ++j) {
      int64_t w = a[i][j];
      if (w < 0 || w >= static_cast<int64_t>(vocab.size()))
        throw OpError(fmt::format("token {} is not a word id (the vocabulary has {})", w, vocab.size()));
      if (w == 0) continue;
      if (!text.empty()) text += ' ';
      text += vocab[static_cast<size_t>(w)];
    }
    out.push_back(text);
  }
  return out;
}

}  // namespace pipette::stdlib
