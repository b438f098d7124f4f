"""Settings: a form built from `osmis_core.config.FIELDS` (the engine's single source of defaults, help texts,
ranges and choices), with presets, validation and save/load as a file."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from osmis_core.config import (
    FIELDS,
    GROUPS,
    OsmisConfig,
    model_reads,
    option_label,
    option_maximum,
    option_type,
    parse_number,
    preset_config,
    preset_names,
    preset_options,
)
from osmis_core.errors import OsmisError

from .state import IDLE
from .widgets import DigitsValidator, WholeSpinBox, error_label, set_error, wheel_when_focused

# Tabs of the form: (title, engine groups shown as group boxes). Engine groups not named here get their own tab.
TABS: list[tuple[str, list[str]]] = [
    ("Basic", ["data", "run"]),
    ("Generator", ["generator"]),
    ("Discriminator", ["discriminator"]),
    ("Augmentation", ["augmentation"]),
    ("Regularisation", ["regularisation"]),
    ("Optimisation", ["optimisation"]),
]
GROUP_TITLES = {
    "data": "Data",
    "run": "Run",
    "generator": "Generator",
    "discriminator": "Discriminator branches (low-level, content, layout)",
    "augmentation": "Augmentation",
    "regularisation": "Regularisation",
    "optimisation": "Optimisation",
}
INT_MAX = 2**31 - 1
_INVALID_STYLE = "background: #fdecee; border: 1px solid #d9534f;"
_HEX = re.compile(r"^#?[0-9a-fA-F]{6}$")


def _fmt_float(v: float) -> str:
    return f"{v:.10g}"


class FieldEditor(QObject):
    """One option: its widget, value get/set (raises ValueError or ConfigError with a sentence on bad input) and
    label."""

    changed = Signal(str)

    def __init__(self, name: str, f: dataclasses.Field):
        super().__init__()
        self.name = name
        self.field = f
        self.meta = f.metadata
        self.optional = f.default is None
        self.type = option_type(name)
        self.label_text = option_label(name)
        # an int whose range goes past what a spin box holds (the seed) is typed as text
        self._wide_int = self.type is int and self.meta.get("max") is not None and self.meta["max"] > INT_MAX
        self.widget = self._build()
        if isinstance(self.widget, (QAbstractSpinBox, QComboBox)):
            wheel_when_focused(self.widget)
        self.widget.setObjectName(f"option_{name}")
        self.widget.setToolTip(self.tooltip())
        self.label = QLabel(self.label_text + ":")
        self.label.setToolTip(self.tooltip())
        self.label.setBuddy(self.widget)

    def tooltip(self) -> str:
        m = self.meta
        parts = [f"<b>{self.label_text}</b> <code>{self.name}</code>", m.get("help") or ""]
        default = self.field.default
        parts.append(f"Default: {'auto' if default is None else default}")
        if m.get("choices"):
            parts.append("Choices: " + ", ".join(m["choices"]))
        lo, hi = m.get("min"), m.get("max")
        if lo is not None or hi is not None:
            ends = (
                " (ends excluded)"
                if m.get("open")
                else " (minimum excluded)"
                if m.get("above")
                else " (maximum excluded)"
                if m.get("below")
                else ""
            )
            parts.append(f"Range: {'' if lo is None else lo} … {'' if hi is None else hi}{ends}")
        if m.get("model"):
            parts.append(f"Read only by {m['model']} runs (Model)")
        return "<br>".join(parts)

    # -- widgets -------------------------------------------------------------------------------------------
    def _build(self) -> QWidget:
        m = self.meta
        if self.type is bool:
            w = QCheckBox()
            w.toggled.connect(self._emit)
            return w
        if m.get("choices"):
            w = QComboBox()
            if self.optional:
                w.addItem("auto", None)
            for c in m["choices"]:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self._emit)
            return w
        if self._wide_int:  # a seed: more than a spin box holds
            w = QLineEdit()
            w.setMaximumWidth(200)
            w.setValidator(DigitsValidator(w))
            w.textChanged.connect(self._emit)
            return w
        if self.type is int:
            w = WholeSpinBox()
            lo = int(m["min"]) if m.get("min") is not None else -INT_MAX
            hi = min(int(m["max"]), INT_MAX) if m.get("max") is not None else INT_MAX
            if self.optional:
                lo -= 1
                w.setSpecialValueText("auto")
            w.setRange(lo, hi)
            w.setAccelerated(True)
            if hi - lo > 1000:
                w.setGroupSeparatorShown(True)
            w.valueChanged.connect(self._emit)
            return w
        if self.type is float:
            w = QLineEdit()
            w.setMaximumWidth(160)
            w.textChanged.connect(self._emit)
            return w
        if self.name == "device":
            w = QComboBox()
            w.setEditable(True)
            w.addItems(["auto", "cpu", "cuda"])
            w.currentTextChanged.connect(self._emit)
            return w
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        self._line = QLineEdit()
        self._line.setMaximumWidth(200)
        if self.optional:
            self._line.setPlaceholderText("auto")
        self._line.textChanged.connect(self._emit)
        lay.addWidget(self._line)
        if self.name.endswith(("color", "colour")):
            self._line.setPlaceholderText("auto (#RRGGBB)")
            pick = QToolButton()
            pick.setText("…")
            pick.setToolTip("Pick a colour")
            pick.clicked.connect(self._pick_colour)
            lay.addWidget(pick)
        lay.addStretch(1)
        return box

    def _pick_colour(self) -> None:
        current = QColor(self._line.text()) if self._line.text() else QColor("black")
        colour = QColorDialog.getColor(current, self.widget, "Background colour of the mask")
        if colour.isValid():
            self._line.setText(colour.name())

    def _emit(self, *_):
        self.changed.emit(self.name)

    # -- values --------------------------------------------------------------------------------------------
    def value(self):
        w = self.widget
        if self.type is bool:
            return w.isChecked()
        if self.meta.get("choices"):
            return w.currentData()
        if self._wide_int:
            text = w.text().strip()
            if not text:
                raise ValueError(f"{self.label_text}: give a whole number.")
            return parse_number(text, int, self.label_text, option_maximum(self.name))
        if self.type is int:
            if self.optional and w.value() == w.minimum():
                return None
            return int(w.value())
        if self.type is float:
            text = w.text().strip()
            if not text and self.optional:
                return None
            # NaN and infinity are read, and refused by the engine's validation with the other values
            return parse_number(text, float, self.label_text)
        if self.name == "device":
            return w.currentText().strip() or "auto"
        text = self._line.text().strip()
        if not text and self.optional:
            return None
        if self.name.endswith(("color", "colour")):
            if not _HEX.match(text):
                raise ValueError(f"{self.label_text}: '{text}' is not a colour of the form #RRGGBB.")
            return "#" + text.lstrip("#").lower()
        return text

    def set_value(self, value) -> None:
        w = self.widget
        blocked = w.blockSignals(True)
        try:
            if self.type is bool:
                w.setChecked(bool(value))
            elif self.meta.get("choices"):
                i = w.findData(value)
                w.setCurrentIndex(max(0, i))
            elif self._wide_int:
                w.setText(str(int(value)))
            elif self.type is int:
                w.setValue(w.minimum() if value is None else int(value))
            elif self.type is float:
                w.setText("" if value is None else _fmt_float(float(value)))
            elif self.name == "device":
                w.setCurrentText(str(value))
            else:
                self._line.blockSignals(True)
                self._line.setText("" if value is None else str(value))
                self._line.blockSignals(False)
        finally:
            w.blockSignals(blocked)

    def set_invalid(self, invalid: bool) -> None:
        target = self._line if hasattr(self, "_line") else self.widget
        target.setStyleSheet(_INVALID_STYLE if invalid else "")

    def set_modified(self, modified: bool) -> None:
        f = self.label.font()
        f.setBold(modified)
        self.label.setFont(f)


class SettingsPage(QWidget):
    """Every engine option, grouped; emits `config_changed(config or None)` after each edit."""

    config_changed = Signal(object)
    options_changed = Signal(object)  # set of option names edited by the user

    def __init__(self, settings, app_state=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.qsettings = settings
        self.editors: dict[str, FieldEditor] = {name: FieldEditor(name, f) for name, (_, f) in FIELDS.items()}
        self._defaults = OsmisConfig()
        self._config: OsmisConfig | None = self._defaults
        # the configuration last shown whole (a run's, a file's, a preset's): the form's configuration is it with
        # the user's edits, checked as options given now (OsmisConfig.with_options), so that a run saved by an
        # earlier version, with a combination today's rules refuse, is shown and continued as it is
        self._shown: OsmisConfig = self._defaults
        self._error: str | None = None
        self._locked = False
        # The preset the form started from (None: the defaults). Switching the model shows that preset's values
        # for the new model (the engine's preset_config), keeping the options the user changed from it.
        self._base_preset: str | None = None
        self._resolved: dict[tuple[str | None, str], OsmisConfig] = {}

        top = self._top_row()
        self.tabs = self._form_tabs()

        self.error_label = error_label()
        self.lock_label = QLabel("Settings are locked while a training runs; they apply to the next run.")
        self.lock_label.setStyleSheet("color: #8a6d3b;")
        self.lock_label.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.lock_label)
        layout.addWidget(self.error_label)

        for ed in self.editors.values():
            ed.changed.connect(self._edited)
        if app_state is not None:  # publish every change; locked while a training runs
            self.options_changed.connect(lambda names: app_state.set_config(self._config, self._error, names))
            app_state.training_state_changed.connect(lambda state: self.set_locked(state != IDLE))
        self.set_config(self._defaults)

    def _top_row(self) -> QHBoxLayout:
        """Preset, Defaults, the count of changed options, Load and Save."""
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset:"))
        self.preset_combo = wheel_when_focused(QComboBox())
        self.preset_combo.setToolTip(
            "Apply a named preset over the defaults (resources/presets), with its values for the chosen model."
        )
        for name in preset_names():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1,
                "\n".join(
                    f"{model} runs: " + ", ".join(f"{k}={v}" for k, v in preset_options(name, model).items())
                    for model in FIELDS["model"][1].metadata["choices"]
                ),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.preset_combo.addItem("custom", None)
        self.preset_combo.activated.connect(self._preset_chosen)
        top.addWidget(self.preset_combo)
        self.reset_button = QPushButton("Defaults")
        self.reset_button.setToolTip("Reset every option to the engine's default for the chosen model")
        self.reset_button.clicked.connect(self.reset_defaults)
        top.addWidget(self.reset_button)
        top.addStretch(1)
        self.summary_label = QLabel()
        top.addWidget(self.summary_label)
        top.addStretch(1)
        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("Load options from a JSON/TOML file or a run.json (Ctrl+L)")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save all options to a JSON file (Ctrl+S)")
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)
        return top

    def _form_tabs(self) -> QTabWidget:
        """A tab per group of options (TABS), a group box per engine group, a row per option."""
        tabs_widget = QTabWidget()
        placed: set[str] = set()
        tabs = list(TABS) + [(g.capitalize(), [g]) for g in GROUPS if not any(g in gs for _, gs in TABS)]
        for title, groups in tabs:
            page = QWidget()
            lay = QVBoxLayout(page)
            for g in groups:
                if g not in GROUPS:
                    continue
                box = QGroupBox(GROUP_TITLES.get(g, g.capitalize()))
                form = QFormLayout(box)
                form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
                for name, (group, _) in FIELDS.items():
                    if group == g:
                        ed = self.editors[name]
                        form.addRow(ed.label, ed.widget)
                        placed.add(name)
                lay.addWidget(box)
            lay.addStretch(1)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            tabs_widget.addTab(scroll, title)
        assert placed == set(FIELDS), "every engine option must be in the form"
        return tabs_widget

    # -- public API ----------------------------------------------------------------------------------------
    def config(self) -> OsmisConfig | None:
        """The validated configuration, or None when an option is invalid (see error_text())."""
        return self._config

    def error_text(self) -> str | None:
        return self._error

    def set_config(self, config: OsmisConfig) -> None:
        """Show a whole configuration (a run's, a file's); its model's defaults are the base of later edits."""
        self._base_preset = None
        self._show(config)

    def _show(self, config: OsmisConfig) -> None:
        self._shown = config
        for name, value in config.flat().items():
            if name in self.editors:
                self.editors[name].set_value(value)
        self._validate()
        self.config_changed.emit(self._config)
        self.options_changed.emit(set(self.editors))

    def set_options(self, **options) -> None:
        """Change some options (flat names) as a user would, then validate once."""
        for name, value in options.items():
            self.editors[name].set_value(value)
        self._validate()
        self.config_changed.emit(self._config)
        self.options_changed.emit(set(options))

    def model(self) -> str:
        """The model the form's selector names ('osmis' or 'renderer')."""
        return self.editors["model"].value()

    def apply_preset(self, name: str) -> None:
        """Show the preset's values for the model the selector names (the engine's preset_config)."""
        self._show(self._preset_config(name, self.model()))
        self._base_preset = name

    def reset_defaults(self) -> None:
        """Show the defaults of the model the selector names."""
        self._show(self._preset_config(None, self.model()))
        self._base_preset = None

    def load_file(self, path: str | Path) -> None:
        """Raises OsmisError with a sentence when the file is not a valid options file."""
        from osmis_core.config import build_config

        self.set_config(build_config(config_file=path))

    def _preset_config(self, name: str | None, model: str) -> OsmisConfig:
        key = (name, model)
        if key not in self._resolved:
            self._resolved[key] = preset_config(name, model)
        return self._resolved[key]

    def save_file(self, path: str | Path) -> None:
        from osmis_core.application.runfolder import output_place_problem
        from osmis_core.config import save_config_file

        cfg = self.config()
        if cfg is None:
            raise OsmisError(f"the settings are not valid and cannot be saved: {self._error}")
        place = output_place_problem(path, "file")
        if place is not None:
            raise OsmisError(f"{path}: {place}.")
        try:
            save_config_file(cfg, path)
        except OSError as exc:
            raise OsmisError(f"{path}: cannot be written ({exc.strerror or exc}).") from None

    def set_locked(self, locked: bool) -> None:
        self._locked = locked
        self._enable_editors()
        for w in (self.preset_combo, self.reset_button, self.load_button):
            w.setEnabled(not locked)
        self.lock_label.setVisible(locked)

    # -- internals -----------------------------------------------------------------------------------------
    def _enable_editors(self) -> None:
        """Editable: every option the chosen model reads (the engine's model_reads), unless a training runs. The
        others are shown greyed out, so that no value is set that the run would ignore."""
        model = self.editors["model"].value()
        for name, ed in self.editors.items():
            reads = model_reads(name, model)
            ed.widget.setEnabled(reads and not self._locked)
            ed.label.setEnabled(reads)

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name:
            self.apply_preset(name)

    def _edited(self, name: str) -> None:
        if name == "model" and self._config is not None and self._switch_model(self._config):
            return
        self._validate()
        self.config_changed.emit(self._config)
        self.options_changed.emit({name})

    def _switch_model(self, before: OsmisConfig) -> bool:
        """The selector now names another model than `before` (the form's last valid configuration): show the base
        preset's (or the defaults') values for the new model with the options the user changed from the base for
        the old one. False when that is not a valid configuration (the form then just validates)."""
        model = self.model()
        base = self._preset_config(self._base_preset, before.model).flat()
        edits = {k: v for k, v in before.flat().items() if k != "model" and v != base[k]}
        try:
            config = self._preset_config(self._base_preset, model).replace(**edits)
        except OsmisError:
            return False
        self._show(config)
        return True

    def _validate(self) -> None:
        values, errors = {}, []
        for name, ed in self.editors.items():
            try:
                values[name] = ed.value()
                ed.set_invalid(False)
            except (ValueError, OsmisError) as exc:
                errors.append(str(exc))
                ed.set_invalid(True)
        cfg = None
        if not errors:
            try:
                shown = self._shown.flat()
                # the engine names the options by the form's labels, as the editors' own messages do
                cfg = self._shown.with_options({k: v for k, v in values.items() if v != shown[k]}, name_as=option_label)
            except OsmisError as exc:
                text = str(exc)
                bad = self._first_named(text)
                # a sentence is capitalised, a label is not (p_aug, beta1 are written so on the form)
                errors.append(
                    text if bad is not None and text.startswith(bad.label_text) else text[0].upper() + text[1:]
                )
                if bad is not None:
                    bad.set_invalid(True)
        if cfg is not None:
            cfg = self._checked_device(cfg, errors)
        self._config = cfg
        self._enable_editors()
        self._error = errors[0] if errors else None
        set_error(self.error_label, self._error)
        defaults = self._preset_config(None, self.model()).flat()
        changed = 0
        for name, ed in self.editors.items():
            modified = name in values and values[name] != defaults[name]
            ed.set_modified(modified)
            changed += modified
        self.summary_label.setText(f"{len(self.editors)} options · {changed} changed from the defaults (shown in bold)")
        self._sync_preset(cfg)

    def _checked_device(self, cfg: OsmisConfig, errors: list[str]) -> OsmisConfig | None:
        """`cfg`, or None with the sentence added to `errors` and the Device field marked where this machine cannot
        train on its device (cuda without a CUDA GPU, a malformed name): the engine's check (devices.resolve_device,
        which a training's start would refuse it by) said in the form now, not first at Start."""
        from osmis_core.devices import resolve_device  # torch: imported at the first check, not with the form

        try:
            resolve_device(cfg.run.device)
        except OsmisError as exc:
            text = str(exc)
            errors.append(text[0].upper() + text[1:])
            self.editors["device"].set_invalid(True)
            return None
        return cfg

    def _first_named(self, text: str):
        """The editor whose label a message names first (the longest label where two start there)."""
        found = [(text.find(ed.label_text), -len(ed.label_text), name) for name, ed in self.editors.items()]
        found = [f for f in found if f[0] >= 0]
        return self.editors[min(found)[2]] if found else None

    def _sync_preset(self, cfg: OsmisConfig | None) -> None:
        index = self.preset_combo.count() - 1  # "custom"
        if cfg is not None:
            for i in range(self.preset_combo.count() - 1):
                if self._preset_config(self.preset_combo.itemData(i), cfg.model) == cfg:
                    index = i
                    break
        self.preset_combo.setCurrentIndex(index)
