// loadgen --help: what every option does, apart from the parsing that enforces it (options.cpp).
#include "options.hpp"

namespace memgate::loadgen {

std::string usage() {
  return "usage: loadgen --url URL [--url URL ...] [--weights 3,1] --protocol h1|h2c|h2-tls\n"
         "               --requests N [--connections C] [--streams S] [--pipeline D]\n"
         "               [--requests-per-connection R] [--method GET|POST] [--upload-bytes B]\n"
         "               [--rate R] [--time-limit-s T] [--window-bits 16..30] [--threads T]\n"
         "               [--progress-ms MS] [--insecure] [--cancel-after-bytes N]\n"
         "               [--read-rate BYTES_PER_S] [--hold]\n"
         "               [--verify pattern|status|length|digest] [--expect-length N[,N...]]\n"
         "\n"
         "  Any server: loadgen sends only the requests asked for (no probes; it reads no /healthz,\n"
         "  /mem or stdout line) and judges responses by --verify, one check for every URL:\n"
         "  --verify pattern         the default, for the refserver: /bytes/N and /stream/N must be N\n"
         "                           bytes of its pattern (byte i is i % 251), /stream/inf the pattern\n"
         "                           without end, POST /upload its receipt {\"bytes\", \"crc32\"}; any\n"
         "                           other path only a 2xx status\n"
         "  --verify status          any 2xx status passes, whatever the body\n"
         "  --verify length          2xx and exactly --expect-length body bytes; one length per URL,\n"
         "                           comma-separated in --url order (required: use digest to compare\n"
         "                           against the first response instead)\n"
         "  --verify digest          2xx and every body of a URL equal to that URL's first 2xx body\n"
         "                           (length and XXH64, hashed as the bytes arrive); the report lists\n"
         "                           each URL's digest and the first that differed\n"
         "  A response abandoned by --cancel-after-bytes is judged by the bytes that arrived: by its\n"
         "  status under status and digest, and not longer than expected under length.\n"
         "\n"
         "  --cancel-after-bytes N   abandon each response once N body bytes arrived (h2: RST_STREAM\n"
         "                           CANCEL; h1: close the connection); needed for /stream/inf\n"
         "  --read-rate BYTES_PER_S  read at most this many bytes per second per connection, so the\n"
         "                           server meets TCP backpressure\n"
         "  --hold                   after the last request keep every connection open and idle, print\n"
         "                           'HOLDING <n>' to stderr, close them once stdin reaches EOF\n";
}

}  // namespace memgate::loadgen
