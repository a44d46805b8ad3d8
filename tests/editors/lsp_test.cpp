// A scripted Language Server session against the real `pipette lsp` process,
// over pipes: initialize, didOpen with an error, publishDiagnostics with the
// right range, completion, hover, go-to-definition, formatting, didChange that
// fixes the error, shutdown and exit.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace pipette::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

class LspClient {
 public:
  LspClient() {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      // Never touch the user's plugin registry cache.
      std::string registry = fs::temp_directory_path() / ("pipette-lsp-registry-" + std::to_string(getpid()) + ".xml");
      setenv("PIPETTE_REGISTRY", registry.c_str(), 1);
      unsetenv("PIPETTE_PLUGIN_PATH");
      execl(PIPETTE_EXE, PIPETTE_EXE, "lsp", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
  }
  ~LspClient() {
    if (in_ >= 0) close(in_);
    if (out_ >= 0) close(out_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void send(const json& m) {
    std::string body = m.dump();
    std::string frame = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(write(in_, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  }
  void request(int id, const std::string& method, json params) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
  }
  void notify(const std::string& method, json params) {
    send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

  // The next message, or null after `timeout_s` (a hung server fails the test, it does not hang it).
  json next(double timeout_s = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (true) {
      auto header_end = buf_.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        auto cl = buf_.find("Content-Length: ");
        size_t len = std::stoul(buf_.substr(cl + 16, header_end - cl - 16));
        if (buf_.size() >= header_end + 4 + len) {
          json m = json::parse(buf_.substr(header_end + 4, len));
          buf_.erase(0, header_end + 4 + len);
          return m;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return nullptr;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return nullptr;
      char chunk[65536];
      ssize_t n = read(out_, chunk, sizeof chunk);
      if (n <= 0) return nullptr;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  // Skips notifications until the response to `id` (kept in `skipped`).
  json response(int id) {
    for (json m = next(); !m.is_null(); m = next()) {
      if (m.contains("id") && m["id"] == id) return m;
      skipped.push_back(m);
    }
    return nullptr;
  }
  json diagnostics_for(const std::string& uri) {
    for (auto it = skipped.begin(); it != skipped.end(); ++it)
      if (it->value("method", "") == "textDocument/publishDiagnostics" && (*it)["params"]["uri"] == uri) {
        json d = *it;
        skipped.erase(it);
        return d["params"]["diagnostics"];
      }
    for (json m = next(); !m.is_null(); m = next())
      if (m.value("method", "") == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
        return m["params"]["diagnostics"];
    return nullptr;
  }
  int wait_exit() {
    int status = 0;
    close(in_);
    in_ = -1;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(100000);
    }
    return -2;
  }

  std::vector<json> skipped;

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  bool reaped_ = false;
  std::string buf_;
};

json pos(int line, int character) { return {{"line", line}, {"character", character}}; }

bool has_label(const json& completion, const std::string& label) {
  for (auto& i : completion["items"])
    if (i["label"] == label) return true;
  return false;
}

TEST(Lsp, ScriptedSession) {
  fs::path dir = fs::temp_directory_path() / ("pipette-lsp-" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "lib.pipe") << "pipeline twice(x, factor: float = 2.0) {\n  return tensor.mul(x, factor)\n}\n";
  }
  std::string uri = "file://" + (dir / "main.pipe").string();
  // Line 2 calls an op that does not exist: the error is at `tensor.smu`.
  std::string text =
      "import \"lib.pipe\"\n"
      "let test = data.fashion_mnist(split=\"test\", limit=8)\n"
      "let s = tensor.smu(test.images)\n"
      "report \"n\" = twice(tensor.sum(test.images))\n";
  LspClient c;
  c.request(1, "initialize", {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", json::object()}});
  json init = c.response(1);
  ASSERT_FALSE(init.is_null()) << "no answer to initialize";
  auto& caps = init["result"]["capabilities"];
  EXPECT_EQ(caps["hoverProvider"], true);
  EXPECT_EQ(caps["definitionProvider"], true);
  EXPECT_TRUE(caps.contains("completionProvider"));
  c.notify("initialized", json::object());

  c.notify("textDocument/didOpen", {{"textDocument", {{"uri", uri}, {"languageId", "pipe"}, {"version", 1}, {"text", text}}}});
  json diags = c.diagnostics_for(uri);
  ASSERT_TRUE(diags.is_array()) << "no publishDiagnostics";
  ASSERT_GE(diags.size(), 1u);
  bool found = false;
  for (auto& d : diags) {
    if (d["severity"] != 1) continue;
    found = true;
    EXPECT_NE(d["message"].get<std::string>().find("tensor.smu"), std::string::npos) << d.dump();
    EXPECT_EQ(d["range"]["start"], pos(2, 8)) << d.dump();
    EXPECT_EQ(d["range"]["end"], pos(2, 18)) << d.dump();
    EXPECT_NE(d["message"].get<std::string>().find("tensor.sum"), std::string::npos) << "the hint: " << d.dump();
  }
  EXPECT_TRUE(found) << diags.dump();

  // Op names after a namespace.
  c.request(2, "textDocument/completion", {{"textDocument", {{"uri", uri}}}, {"position", pos(2, 15)}});
  json comp = c.response(2)["result"];
  EXPECT_TRUE(has_label(comp, "tensor.sum")) << comp.dump().substr(0, 500);
  EXPECT_TRUE(has_label(comp, "tensor.mean"));
  EXPECT_FALSE(has_label(comp, "data.fashion_mnist"));
  // Parameter names at an argument, and variables.
  c.request(3, "textDocument/completion", {{"textDocument", {{"uri", uri}}}, {"position", pos(1, 30)}});
  comp = c.response(3)["result"];
  EXPECT_TRUE(has_label(comp, "split=")) << comp.dump().substr(0, 500);
  EXPECT_TRUE(has_label(comp, "limit="));
  c.request(4, "textDocument/completion", {{"textDocument", {{"uri", uri}}}, {"position", pos(3, 13)}});
  comp = c.response(4)["result"];
  EXPECT_TRUE(has_label(comp, "test"));
  EXPECT_TRUE(has_label(comp, "s"));

  // Hover: an op's signature and documentation; a parameter's.
  c.request(5, "textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(1, 20)}});
  json hover = c.response(5)["result"];
  ASSERT_TRUE(hover.is_object()) << hover.dump();
  std::string md = hover["contents"]["value"];
  EXPECT_NE(md.find("data.fashion_mnist("), std::string::npos) << md;
  EXPECT_NE(md.find("split"), std::string::npos);
  EXPECT_EQ(hover["range"]["start"], pos(1, 11));
  c.request(6, "textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(1, 45)}});
  hover = c.response(6)["result"];
  ASSERT_TRUE(hover.is_object());
  EXPECT_NE(hover["contents"]["value"].get<std::string>().find("parameter of `data.fashion_mnist`"), std::string::npos);

  // Go to definition: a let, an imported pipeline, the import itself.
  c.request(7, "textDocument/definition", {{"textDocument", {{"uri", uri}}}, {"position", pos(3, 33)}});
  json def = c.response(7)["result"];
  EXPECT_EQ(def["uri"], uri);
  EXPECT_EQ(def["range"]["start"], pos(1, 4));
  c.request(8, "textDocument/definition", {{"textDocument", {{"uri", uri}}}, {"position", pos(3, 15)}});
  def = c.response(8)["result"];
  EXPECT_EQ(def["uri"], "file://" + (dir / "lib.pipe").string());
  EXPECT_EQ(def["range"]["start"], pos(0, 9));
  c.request(9, "textDocument/definition", {{"textDocument", {{"uri", uri}}}, {"position", pos(0, 10)}});
  def = c.response(9)["result"];
  EXPECT_EQ(def["uri"], "file://" + (dir / "lib.pipe").string());

  // Fix the error: the diagnostics clear (a warning may remain: `s` is unused).
  std::string fixed = text;
  fixed.replace(fixed.find("smu"), 3, "sum");
  fixed.replace(fixed.find("let test"), 8, "let   test");
  c.notify("textDocument/didChange",
           {{"textDocument", {{"uri", uri}, {"version", 2}}}, {"contentChanges", json::array({{{"text", fixed}}})}});
  diags = c.diagnostics_for(uri);
  ASSERT_TRUE(diags.is_array());
  for (auto& d : diags) EXPECT_NE(d["severity"], 1) << d.dump() << "\n" << fixed;

  // Formatting: one edit, the whole document in canonical form.
  c.request(10, "textDocument/formatting", {{"textDocument", {{"uri", uri}}}, {"options", {{"tabSize", 2}, {"insertSpaces", true}}}});
  json edits = c.response(10)["result"];
  ASSERT_EQ(edits.size(), 1u) << edits.dump();
  EXPECT_NE(edits[0]["newText"].get<std::string>().find("\nlet test = data"), std::string::npos);

  // An unknown request is an error, not a crash.
  c.request(11, "textDocument/rename", {{"textDocument", {{"uri", uri}}}, {"position", pos(0, 0)}, {"newName", "x"}});
  EXPECT_EQ(c.response(11)["error"]["code"], -32601);

  c.request(12, "shutdown", nullptr);
  EXPECT_TRUE(c.response(12).contains("result"));
  c.notify("exit", nullptr);
  EXPECT_EQ(c.wait_exit(), 0);
  fs::remove_all(dir);
}

// Plugin ops come from the registry cache: diagnostics check their calls and
// completion offers them, once the script declares the plugin.
TEST(Lsp, PluginOpsFromTheRegistry) {
  std::string uri = "file://" + (fs::temp_directory_path() / "pipette-lsp-plugin.pipe").string();
  std::string text =
      "plugin \"prime\"\n"
      "let t = prime.tags(tensor.random([4, 2]), names=[\"a\", \"b\"], colour=1)\n"
      "report \"n\" = prime.\n";
  LspClient c;
  c.request(1, "initialize", {{"processId", nullptr}, {"capabilities", json::object()}});
  ASSERT_FALSE(c.response(1).is_null());
  c.notify("textDocument/didOpen", {{"textDocument", {{"uri", uri}, {"languageId", "pipe"}, {"version", 1}, {"text", text}}}});
  json diags = c.diagnostics_for(uri);
  ASSERT_TRUE(diags.is_array());
  bool unknown_param = false;
  for (auto& d : diags)
    unknown_param |= d["message"].get<std::string>().find("colour") != std::string::npos && d["range"]["start"]["line"] == 1;
  EXPECT_TRUE(unknown_param) << diags.dump();
  c.request(2, "textDocument/completion", {{"textDocument", {{"uri", uri}}}, {"position", pos(2, 19)}});
  json comp = c.response(2)["result"];
  EXPECT_TRUE(has_label(comp, "prime.extract")) << comp.dump().substr(0, 400);
  EXPECT_TRUE(has_label(comp, "prime.tags"));
  c.request(3, "textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", pos(1, 12)}});
  json hover = c.response(3)["result"];
  ASSERT_TRUE(hover.is_object());
  EXPECT_NE(hover["contents"]["value"].get<std::string>().find("plugin `prime`"), std::string::npos);
  c.request(4, "shutdown", nullptr);
  c.response(4);
  c.notify("exit", nullptr);
  EXPECT_EQ(c.wait_exit(), 0);
}

}  // namespace
}  // namespace pipette::test
