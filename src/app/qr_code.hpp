// QR codes for pnq:// links (paniq-ctl link): libqrencode makes the symbol; it is drawn for a
// terminal with Unicode half blocks (or plain ASCII) and written as a PNG with libpng.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace paniq::app {

enum class QrLevel { L, M, Q, H };

struct QrCode {
  int version = 0;          // 1..40
  std::size_t width = 0;    // modules per side (17 + 4 * version)
  std::vector<bool> dark;   // width * width, row by row; true = dark module

  bool at(std::size_t x, std::size_t y) const { return dark[y * width + x]; }
};

// Encodes `data` in byte mode at error-correction `level`, smallest version that holds it.
// Error (std::errc::message_size) when it does not fit version 40 at that level.
Result<QrCode> make_qr(std::string_view data, QrLevel level);

// Parses "L", "M", "Q" or "H" (any case).
bool parse_qr_level(std::string_view text, QrLevel& out);

struct TerminalStyle {
  bool ascii = false;   // "##" / "  " per module and one line per row, for terminals or fonts
                        // without the block characters
  bool invert = false;  // draw the dark modules (light-background terminals); the default draws
                        // the light modules, which suits the usual dark terminal background
};

// The code with its 4-module quiet zone, lines ending in '\n'. Half-block mode packs two module
// rows into one text line (U+2580 upper half, U+2584 lower half, U+2588 full block).
std::string render_terminal(const QrCode& qr, const TerminalStyle& style = {});

// Writes an 8-bit greyscale PNG: `scale` pixels per module, a 4-module white quiet zone, black
// modules. Error (naming the path) when the file cannot be written.
Result<void> write_qr_png(const QrCode& qr, const std::string& path, std::size_t scale = 8);

}  // namespace paniq::app
