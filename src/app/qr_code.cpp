#include "app/qr_code.hpp"

#include <png.h>
#include <qrencode.h>

#include <cerrno>
#include <memory>

namespace paniq::app {
namespace {

constexpr std::size_t kQuietZone = 4;  // modules of light border the QR standard asks for

QRecLevel to_qrencode(QrLevel level) {
  switch (level) {
    case QrLevel::L: return QR_ECLEVEL_L;
    case QrLevel::M: return QR_ECLEVEL_M;
    case QrLevel::Q: return QR_ECLEVEL_Q;
    case QrLevel::H: return QR_ECLEVEL_H;
  }
  return QR_ECLEVEL_M;
}

// Module (x, y) of the code framed by the quiet zone; outside the symbol = light.
bool dark_at(const QrCode& qr, std::size_t x, std::size_t y) {
  if (x < kQuietZone || y < kQuietZone) return false;
  x -= kQuietZone;
  y -= kQuietZone;
  return x < qr.width && y < qr.width && qr.at(x, y);
}

}  // namespace

Result<QrCode> make_qr(std::string_view data, QrLevel level) {
  errno = 0;
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(
      QRcode_encodeData(static_cast<int>(data.size()), reinterpret_cast<const unsigned char*>(data.data()), 0,
                        to_qrencode(level)),
      QRcode_free);
  if (!code) {
    const int err = errno;
    if (err == ERANGE || err == EINVAL) {
      return Error{std::make_error_code(std::errc::message_size),
                   "QR code: " + std::to_string(data.size()) + " bytes do not fit a QR code at this "
                   "error-correction level (version 40 holds at most 2953)"};
    }
    return Error{std::make_error_code(std::errc::not_enough_memory), "QR code: libqrencode failed"};
  }
  QrCode qr;
  qr.version = code->version;
  qr.width = static_cast<std::size_t>(code->width);
  qr.dark.resize(qr.width * qr.width);
  for (std::size_t i = 0; i < qr.dark.size(); ++i) qr.dark[i] = (code->data[i] & 1) != 0;
  return qr;
}

bool parse_qr_level(std::string_view text, QrLevel& out) {
  if (text.size() != 1) return false;
  switch (text[0]) {
    case 'L': case 'l': out = QrLevel::L; return true;
    case 'M': case 'm': out = QrLevel::M; return true;
    case 'Q': case 'q': out = QrLevel::Q; return true;
    case 'H': case 'h': out = QrLevel::H; return true;
    default: return false;
  }
}

std::string render_terminal(const QrCode& qr, const TerminalStyle& style) {
  const std::size_t side = qr.width + 2 * kQuietZone;
  // Drawn = the character's foreground: light modules by default (dark terminal background).
  auto drawn = [&](std::size_t x, std::size_t y) { return y < side && dark_at(qr, x, y) == style.invert; };
  std::string out;
  if (style.ascii) {
    for (std::size_t y = 0; y < side; ++y) {
      for (std::size_t x = 0; x < side; ++x) out += drawn(x, y) ? "##" : "  ";
      out += '\n';
    }
    return out;
  }
  for (std::size_t y = 0; y < side; y += 2) {
    for (std::size_t x = 0; x < side; ++x) {
      const bool top = drawn(x, y), bottom = drawn(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

Result<void> write_qr_png(const QrCode& qr, const std::string& path, std::size_t scale) {
  const std::size_t side = (qr.width + 2 * kQuietZone) * scale;
  std::vector<png_byte> pixels(side * side);
  for (std::size_t y = 0; y < side; ++y) {
    for (std::size_t x = 0; x < side; ++x) pixels[y * side + x] = dark_at(qr, x / scale, y / scale) ? 0 : 255;
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(side);
  image.height = static_cast<png_uint_32>(side);
  image.format = PNG_FORMAT_GRAY;
  const auto stride = static_cast<png_int_32>(side);
  if (png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), stride, nullptr) == 0) {
    const std::string why = image.message;
    png_image_free(&image);
    return Error{std::make_error_code(std::errc::io_error), "cannot write " + path + ": " + why};
  }
  return {};
}

}  // namespace paniq::app
