"""The Paint page's canvas: shows a layout in class colours (optionally blended over its render), with zoom (wheel),
pan (middle button, or Alt + left button), a brush cursor, the region marked for re-rolling and the outline of a
rectangle or lasso being drawn. It only reports left-button gestures in layout coordinates; the page applies the
tools."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget


class PaintCanvas(QWidget):
    """Layout coordinates: pixel (i, j) (column, row) has its centre at (i, j); x = column, y = row."""

    pressed = Signal(float, float)
    moved = Signal(float, float)  # with the left button held
    released = Signal(float, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.Mid).darker(140))
        self.setPalette(pal)
        self._layout: QPixmap | None = None
        self._size = (0, 0)  # layout H, W
        self._backdrop: QPixmap | None = None
        self._region: QPixmap | None = None
        self._opacity = 1.0  # of the layout over the backdrop (render)
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fitted = True  # follow the widget's size until the user zooms or pans
        self._pan_from: QPoint | None = None
        self._drawing = False
        self._cursor: QPointF | None = None
        self.brush_radius = 0.0  # layout pixels; 0 hides the brush outline
        self.shape_kind: str | None = None  # "rect" or "lasso" while one is drawn
        self.shape_points: list[tuple[float, float]] = []

    # -- content -------------------------------------------------------------------------------------------
    def set_layout(self, ids: np.ndarray, colours: np.ndarray) -> None:
        """ids: H x W uint8 class ids; colours: N x 3 uint8, class id -> colour."""
        a = np.ascontiguousarray(ids, dtype=np.uint8)
        h, w = a.shape
        image = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Indexed8)
        table = [0xFF000000 | (int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in colours[:256]]
        image.setColorTable(table + [0xFF000000] * (256 - len(table)))
        self._layout = QPixmap.fromImage(image)  # copies the pixels
        if (h, w) != self._size:
            self._size = (h, w)
            self._fitted = True
            self._fit()
        self.update()

    def set_backdrop(self, image: QImage | None) -> None:
        self._backdrop = None if image is None or image.isNull() else QPixmap.fromImage(image)
        self.update()

    def set_region(self, mask: np.ndarray | None) -> None:
        """The region marked for re-rolling (H x W bool), drawn as a translucent white veil."""
        if mask is None or not mask.any():
            self._region = None
        else:
            rgba = np.zeros(mask.shape + (4,), np.uint8)
            rgba[mask] = (255, 255, 255, 150)
            h, w = mask.shape
            self._region = QPixmap.fromImage(QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy())
        self.update()

    def set_layout_opacity(self, opacity: float) -> None:
        self._opacity = max(0.0, min(1.0, opacity))
        self.update()

    # -- view ----------------------------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        return self._scale

    def _fit(self) -> None:
        h, w = self._size
        if not h or not w:
            return
        self._scale = max(1e-3, min((self.width() - 8) / w, (self.height() - 8) / h))
        self._offset = QPointF((self.width() - w * self._scale) / 2, (self.height() - h * self._scale) / 2)

    def fit(self) -> None:
        """Show the whole layout, as large as the widget allows."""
        self._fitted = True
        self._fit()
        self.update()

    def set_view(self, scale: float, offset: tuple[float, float]) -> None:
        """Zoom (widget pixels per layout pixel) and where layout corner (0, 0) lies in the widget."""
        self._fitted = False
        self._scale = max(1e-3, float(scale))
        self._offset = QPointF(*offset)
        self.update()

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        new = max(0.1, min(64.0, self._scale * factor))
        self._offset = anchor - (anchor - self._offset) * (new / self._scale)
        self._scale = new
        self._fitted = False
        self.update()

    def to_layout(self, pos: QPointF) -> tuple[float, float]:
        return ((pos.x() - self._offset.x()) / self._scale - 0.5, (pos.y() - self._offset.y()) / self._scale - 0.5)

    def widget_pos(self, x: float, y: float) -> QPoint:
        """The widget pixel over the centre of layout pixel (x, y) (for tests and scripts)."""
        return QPoint(
            int(np.floor(self._offset.x() + (x + 0.5) * self._scale)),
            int(np.floor(self._offset.y() + (y + 0.5) * self._scale)),
        )

    # -- events --------------------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        if self._fitted:
            self._fit()
        super().resizeEvent(event)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(1.25**steps, event.position())

    def mousePressEvent(self, event) -> None:
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.AltModifier
        )
        if pan:
            self._pan_from = event.position().toPoint()
        elif event.button() == Qt.MouseButton.LeftButton and self._layout is not None:
            self._drawing = True
            self.pressed.emit(*self.to_layout(event.position()))

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        self._cursor = pos
        if self._pan_from is not None:
            delta = pos.toPoint() - self._pan_from
            self._pan_from = pos.toPoint()
            self._offset += QPointF(delta)
            self._fitted = False
        elif self._drawing:
            self.moved.emit(*self.to_layout(pos))
        self.update()  # the brush outline follows the pointer

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
        elif event.button() == Qt.MouseButton.LeftButton and self._drawing:
            self._drawing = False
            self.released.emit(*self.to_layout(event.position()))

    def leaveEvent(self, event) -> None:
        self._cursor = None
        self.update()

    # -- painting ------------------------------------------------------------------------------------------
    def _layout_point(self, x: float, y: float) -> QPointF:
        return QPointF(self._offset.x() + (x + 0.5) * self._scale, self._offset.y() + (y + 0.5) * self._scale)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        if self._layout is None:
            p.setPen(self.palette().color(QPalette.ColorRole.BrightText))
            p.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Open a renderer run (File ▸ Open Run Folder…) to paint layouts.",
            )
            return
        h, w = self._size
        target = QRectF(self._offset.x(), self._offset.y(), w * self._scale, h * self._scale)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self._backdrop is not None and self._opacity < 1:
            p.drawPixmap(target, self._backdrop, QRectF(self._backdrop.rect()))
        p.setOpacity(self._opacity if self._backdrop is not None else 1.0)
        p.drawPixmap(target, self._layout, QRectF(self._layout.rect()))
        p.setOpacity(1.0)
        if self._region is not None:
            p.drawPixmap(target, self._region, QRectF(self._region.rect()))
        pen = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine)
        p.setPen(pen)
        if self.shape_kind == "rect" and len(self.shape_points) == 2:
            (x0, y0), (x1, y1) = self.shape_points
            p.drawRect(
                QRectF(self._layout_point(min(x0, x1), min(y0, y1)), self._layout_point(max(x0, x1), max(y0, y1)))
            )
        elif self.shape_kind == "lasso" and len(self.shape_points) >= 2:
            path = QPainterPath()
            path.addPolygon(QPolygonF([self._layout_point(x, y) for x, y in self.shape_points]))
            p.drawPath(path)
        if self._cursor is not None and self.brush_radius > 0:
            r = (self.brush_radius + 0.5) * self._scale
            p.setPen(QPen(QColor(0, 0, 0), 1))
            p.drawEllipse(self._cursor, r + 1, r + 1)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawEllipse(self._cursor, r, r)
