"""Small shared widgets and picture helpers (no engine calls here)."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QStyleOptionSpinBox,
    QWidget,
)
from superqt import QLargeIntSpinBox


class DigitsValidator(QValidator):
    """Digits only (a seed typed as text); spaces and a line end around a pasted number are dropped: a seed copied
    from a terminal or a manifest was refused whole by the Settings page's Seed while the Gallery's took it."""

    def validate(self, text: str, pos: int):
        digits = text.strip()
        if not digits:  # emptied
            return QValidator.State.Intermediate, "", 0
        if not (digits.isascii() and digits.isdigit()):
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, digits, min(pos, len(digits))


class _SeedValidator(DigitsValidator):
    """Digits only, for a seed box: superqt's own validator lets a sign through (Enter on a lone '-' fails in its
    int('-')). Digits too many for the box's largest seed become that seed: a pasted run of more than 4300 digits
    had stayed shown while value() kept the old seed (Python's int() refuses it, and Enter printed a traceback). An
    emptied box: Enter or leaving it brings the seed back."""

    def __init__(self, box: QLargeIntSpinBox):
        super().__init__(box)
        self._box = box

    def validate(self, text: str, pos: int):
        state, digits, pos = super().validate(text, pos)
        if state != QValidator.State.Acceptable:
            return state, digits, pos
        largest = str(self._box.maximum())
        if len(digits) > len(largest):
            digits = digits.lstrip("0") or "0"
            if len(digits) > len(largest):
                return QValidator.State.Acceptable, largest, len(largest)
        return QValidator.State.Acceptable, digits, min(pos, len(digits))


class _SeedBox(QLargeIntSpinBox):
    """superqt's box, which shows its seed again when left emptied (as a QSpinBox does): it had stayed blank while
    value(), the seed a gallery is made with, was the last one typed. It is as wide as its largest seed (superqt
    sizes it by the value it starts with: 58 px, which showed '51614' of a 20-digit seed)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        self.ensurePolished()
        text = QSize(self.fontMetrics().horizontalAdvance(str(self.maximum())) + 3, self.lineEdit().sizeHint().height())
        option = QStyleOptionSpinBox()
        self.initStyleOption(option)
        return self.style().sizeFromContents(QStyle.ContentsType.CT_SpinBox, option, text, self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().focusOutEvent(event)
        if not self.lineEdit().text():
            self.lineEdit().setText(str(self.value()))


def seed_box(maximum: int) -> QLargeIntSpinBox:
    """A spin box for a seed from 0 to `maximum` (the engine's limit, config.MAX_SEED, far past the 2**31 - 1 of
    Qt's QSpinBox), whose value() is the Python int shown; it takes digits only (_SeedValidator)."""
    box = _SeedBox()
    box.setRange(0, maximum)
    box.lineEdit().setValidator(_SeedValidator(box))
    return box


class WholeSpinBox(QSpinBox):
    """A spin box for a whole number whose typed text keeps its locale's group separators only where the box shows
    them, every three digits ('1,000'): Qt's own reading took '1,0' as 10 and '10,00' as 1000, a misplaced
    separator (or a decimal comma) silently another number, as Python's int() takes '1_0' (the engine refuses that:
    config.read_number). Such a text is not taken: Enter or leaving the box brings its number back. The number is
    taken when the typing ends (Enter, leaving the box), not digit by digit: '1,0' is not 1 on its way."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setKeyboardTracking(False)

    def validate(self, text: str, pos: int):
        special = self.specialValueText()
        if special and special.startswith(text.strip()):  # the word (QSpinBox refuses it), begun, or an emptied box
            done = text.strip() == special
            return QValidator.State.Acceptable if done else QValidator.State.Intermediate, text, pos
        state = super().validate(text, pos)
        if state[0] == QValidator.State.Acceptable and not self._grouped_as_shown(text):
            return QValidator.State.Intermediate, text, pos
        if state[0] == QValidator.State.Acceptable and special and text != special:
            if self.valueFromText(text) == self.minimum():  # the number the special value stands for
                return QValidator.State.Intermediate, text, pos
        return state

    def fixup(self, text: str) -> str:
        """QSpinBox's own fixup drops every separator of a box that shows none ('1,0' became 10): a misplaced one
        stays, and the text is not taken. A box with a special value (the Settings page's 'auto', shown for the
        number below the option's range) takes its word, begun or whole, or an emptied box for it, as the optional
        text fields do; the number itself is not taken ('4' for a range of 5 to 9 had silently become 'auto', and
        'auto' could not be typed)."""
        special = self.specialValueText()
        if special and special.startswith(text.strip()):
            return special
        return text if not self._grouped_as_shown(text) else super().fixup(text)

    def _grouped_as_shown(self, text: str) -> bool:
        if self.specialValueText() and text == self.specialValueText():
            return True
        digits = text.removeprefix(self.prefix()).removesuffix(self.suffix()).strip()
        sep = self.locale().groupSeparator()
        if not sep or sep not in digits:
            return True
        return re.fullmatch(rf"[+-]?[0-9]{{1,3}}({re.escape(sep)}[0-9]{{3}})+", digits) is not None


class _WheelWhenFocused(QObject):
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()  # on to the scroll area around it
            return True
        return False


def wheel_when_focused(widget: QWidget) -> QWidget:
    """A spin box or list box of a scrolled form that the mouse wheel changes only once clicked into: scrolling the
    Settings page over Iterations had taken 150,000 to 149,999, and over Preset or Model applied another."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_WheelWhenFocused(widget))
    return widget


def commit_typed_number() -> None:
    """Take the number being typed in the focused spin box, as Enter would, before a command reads the boxes: a
    WholeSpinBox takes it only when typing ends, and Generate's and Start's tool buttons and their shortcuts (Ctrl+G,
    Ctrl+R) leave the focus in the box, so a gallery of 6 was made with '3' shown in Samples, and a run of the old
    Iterations started. A text not taken ('1,0') shows the box's number again, the one the command uses."""
    box = QApplication.focusWidget()
    while box is not None and not isinstance(box, QAbstractSpinBox):
        box = box.parentWidget()
    if box is not None:
        box.interpretText()


def qimage_from_array(array: np.ndarray) -> QImage:
    """H x W x 3 (RGB) or H x W x 4 (RGBA) uint8 array -> QImage owning its pixels (safe in any thread)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.ndim == 2:
        a = np.ascontiguousarray(np.repeat(a[..., None], 3, -1))
    h, w, c = a.shape
    fmt = QImage.Format.Format_RGBA8888 if c == 4 else QImage.Format.Format_RGB888
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


def mask_overlay_image(ids: np.ndarray, palette: np.ndarray) -> QImage:
    """H x W class ids -> an 8-bit indexed QImage (1 byte per pixel) whose colour table holds the class colours,
    with the background (class 0) transparent."""
    a = np.ascontiguousarray(np.clip(ids, 0, 255), dtype=np.uint8)
    h, w = a.shape
    image = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Indexed8).copy()
    pal = np.zeros((256, 3), np.uint8)
    pal[: min(256, len(palette))] = palette[:256]
    image.setColorTable(
        [(0 if i == 0 else 0xFF000000) | (int(r) << 16) | (int(g) << 8) | int(b) for i, (r, g, b) in enumerate(pal)]
    )
    return image


def colour_swatch(rgb, size: int = 14) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(*[int(v) for v in rgb]))
    return pm


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ImageView(QWidget):
    """Shows a picture scaled to fit (aspect kept), optionally with a semi-transparent overlay on top."""

    clicked = Signal()

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._base: QPixmap | None = None
        self._overlay: QPixmap | None = None
        self._opacity = 0.5
        self._placeholder = placeholder
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.Mid).darker(140))
        self.setPalette(pal)

    # -- content -------------------------------------------------------------------------------------------
    def set_image(self, image: QImage | QPixmap | None, overlay: QImage | QPixmap | None = None) -> None:
        self._base = self._pixmap(image)
        self._overlay = self._pixmap(overlay)
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self._opacity = max(0.0, min(1.0, opacity))
        self.update()

    def opacity(self) -> float:
        return self._opacity

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def has_image(self) -> bool:
        return self._base is not None

    def image_size(self) -> QSize:
        return self._base.size() if self._base is not None else QSize()

    @staticmethod
    def _pixmap(image) -> QPixmap | None:
        if image is None:
            return None
        if isinstance(image, QPixmap):
            return None if image.isNull() else image
        return None if image.isNull() else QPixmap.fromImage(image)

    # -- painting ------------------------------------------------------------------------------------------
    def target_rect(self) -> QRect:
        if self._base is None:
            return QRect()
        size = self._base.size().scaled(self.size() - QSize(8, 8), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        if self._base is None:
            p.setPen(self.palette().color(QPalette.ColorRole.BrightText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        rect = self.target_rect()
        # Smooth when shrinking; crisp pixels when blowing small images up (masks must stay sharp).
        smooth = rect.width() < self._base.width() * 1.5
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        p.drawPixmap(QRectF(rect), self._base, QRectF(self._base.rect()))
        if self._overlay is not None and self._opacity > 0:
            p.setOpacity(self._opacity)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawPixmap(QRectF(rect), self._overlay, QRectF(self._overlay.rect()))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(480, 320)


class OpacitySlider(QWidget):
    """'Mask opacity' label + slider (0-100 %)."""

    valueChanged = Signal(float)  # noqa: N815 - Qt naming

    def __init__(self, value: float = 0.5, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("Mask opacity")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(int(round(value * 100)))
        self.slider.setToolTip("Opacity of the class colours drawn over the image (0 hides the mask).")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(36)
        lay.addWidget(self.label)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._changed)
        self._changed(self.slider.value())

    def _changed(self, v: int) -> None:
        self.value_label.setText(f"{v} %")
        self.valueChanged.emit(v / 100.0)

    def value(self) -> float:
        return self.slider.value() / 100.0

    def set_value(self, value: float) -> None:
        self.slider.setValue(int(round(value * 100)))


def error_label() -> QLabel:
    """A word-wrapped, selectable red label for user-readable error sentences (hidden when empty)."""
    lab = QLabel()
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    lab.setStyleSheet(
        "QLabel { color: #b00020; background: #fdecee; border: 1px solid #f3b7bf; border-radius: 3px; padding: 6px; }"
    )
    lab.hide()
    return lab


def set_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))
