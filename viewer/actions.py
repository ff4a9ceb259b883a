"""The window's commands: menus and shortcuts, context menus, the shortcut sheet.

Every command is a ``QAction`` added to the window itself, so its shortcut works
wherever focus is and in chrome-free full screen (menu bar hidden). The shortcut
sheet is generated from the menus, so it cannot drift from what the keys do.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenuBar,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import sgcformat

from .imageview import ZOOM_STEP

if TYPE_CHECKING:
    from .window import MainWindow

Shortcut = str | QKeySequence.StandardKey | list


def _add(window: MainWindow, menu, text: str, slot, shortcut: Shortcut | None = None,
         checkable: bool = False, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    window.addAction(action)  # shortcuts work wherever focus is, menu bar shown or not
    if menu is not None:
        menu.addAction(action)
    return action


def build_actions(window: MainWindow) -> dict[str, QAction]:
    """Fill the menu bar; returns the actions the window enables, checks or shows elsewhere."""
    w, bar, a = window, window.menuBar(), {}
    file_menu = bar.addMenu("&File")
    _add(w, file_menu, "&Open file…", w.choose_file, QKeySequence.StandardKey.Open)
    _add(w, file_menu, "Open &folder…", w.choose_folder, "Ctrl+Shift+O")
    w.recent_menu = file_menu.addMenu("&Recent")
    file_menu.addSeparator()
    a["export"] = _add(w, file_menu, "&Export PNG…", w.choose_export, "Ctrl+E")
    a["encode"] = _add(w, file_menu, "&Save as SGC…", w.choose_encode, "Ctrl+Shift+S")
    file_menu.addSeparator()
    a["rename"] = _add(w, file_menu, "Re&name…", w.files.choose_rename, "F2")
    a["trash"] = _add(w, file_menu, "Move to &trash", w.files.trash, "Del")
    file_menu.addSeparator()
    _add(w, file_menu, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    edit_menu = bar.addMenu("&Edit")
    a["undo"] = _add(w, edit_menu, "&Undo move to trash", w.files.undo_trash,
                     QKeySequence.StandardKey.Undo)
    a["copy"] = _add(w, edit_menu, "&Copy image", w.files.copy_image, QKeySequence.StandardKey.Copy)
    a["copy_path"] = _add(w, edit_menu, "Copy &path", w.files.copy_path, "Ctrl+Shift+C")
    _add(w, edit_menu, "&Filter…", w.focus_filter, QKeySequence.StandardKey.Find)

    view_menu = bar.addMenu("&View")
    _add(w, view_menu, "&Browser", w.show_browser, "B")
    _add(w, view_menu, "Zoom &in", lambda: w.zoom(ZOOM_STEP), ["+", "=", "Ctrl++"])
    _add(w, view_menu, "Zoom &out", lambda: w.zoom(1 / ZOOM_STEP), ["-", "Ctrl+-"])
    _add(w, view_menu, "&Fit", w.fit, ["F", "Ctrl+0"])
    _add(w, view_menu, "&1:1", w.actual_size, ["1", "Ctrl+1"])
    a["fullscreen"] = _add(w, view_menu, "F&ull screen", w.toggle_fullscreen, "F11",
                           checkable=True)
    a["slideshow"] = _add(w, view_menu, "Slide&show", w.toggle_slideshow, "F5", checkable=True)
    view_menu.addSeparator()
    group = QActionGroup(w)
    for mode, text, key in (("sample", "&Sample", "S"), ("preview", "&Preview", "P"),
                            ("colors", "&Colour map", "C")):
        a[f"mode:{mode}"] = _add(w, view_menu, text, functools.partial(w.set_view_mode, mode),
                                 key, checkable=True)
        group.addAction(a[f"mode:{mode}"])
    a["mode:sample"].setChecked(True)
    a["overlay"] = _add(w, view_menu, "&Label map overlay", w.set_overlay, "L", checkable=True)
    view_menu.addSeparator()
    a["generative"] = _add(w, view_menu, "&Generative thumbnails", w.model.set_generative,
                           checkable=True)
    a["generative"].setChecked(w.model.generative)
    view_menu.addAction(w.dock.toggleViewAction())

    go_menu = bar.addMenu("&Go")
    _add(w, go_menu, "&Next", lambda: w.step(1), ["Right", "Space", "PgDown"])
    _add(w, go_menu, "&Previous", lambda: w.step(-1), ["Left", "Backspace", "PgUp"])
    _add(w, go_menu, "&First", lambda: w.step_to(0), "Home")
    _add(w, go_menu, "&Last", lambda: w.step_to(-1), "End")

    sample_menu = bar.addMenu("&Sample")
    a["resample"] = _add(w, sample_menu, "&Resample", w.resample, "R",
                         tip="Decode with a new random seed; presses during a decode queue up")
    a["keep"] = _add(w, sample_menu, "&Keep this seed", w.keep_seed, "K")
    a["compare"] = _add(w, sample_menu, "Co&mpare", w.compare_selected, "M")
    a["cancel"] = _add(w, sample_menu, "&Cancel decodes / back", w.escape, "Esc")
    decode_with = sample_menu.addMenu("Decode &with")
    profiles = QActionGroup(w)
    choices = [(None, "Each file's own profile")] + [
        (name, name) for name, entry in sgcformat.PROFILES.items() if entry.vocab is not None]
    for name, text in choices:
        a[f"profile:{name}"] = _add(w, decode_with, text,
                                    functools.partial(w.set_decode_profile, name), checkable=True,
                                    tip="Other vocabularies are mapped through the reviewed bridges")
        profiles.addAction(a[f"profile:{name}"])
    a["profile:None"].setChecked(True)

    help_menu = bar.addMenu("&Help")
    a["shortcuts"] = _add(w, help_menu, "&Keyboard shortcuts", w.show_shortcuts, ["F1", "?"])
    _add(w, help_menu, "&About SGC Viewer", lambda: about(w))

    _context_menu(w.browser.grid, [a["copy"], a["copy_path"], None, a["rename"], a["trash"],
                                   a["undo"]])
    _context_menu(w.view, [a["copy"], a["export"], None, a["keep"], a["resample"],
                           a["compare"], None, a["overlay"], a["fullscreen"], None,
                           a["rename"], a["trash"]])
    return a


def _context_menu(widget: QWidget, actions: list[QAction | None]) -> None:
    """Right-click menu of ``widget``: the same actions as the menus (``None``: separator)."""
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for action in actions:
        if action is None:
            action = QAction(widget)
            action.setSeparator(True)
        widget.addAction(action)


def shortcut_rows(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """``(menu, command, keys)`` for every menu command that has a shortcut."""
    rows = []
    for menu_action in bar.actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for action in menu.actions():
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                             for s in action.shortcuts())
            if keys and not action.isSeparator():
                rows.append((menu.title().replace("&", ""), action.text().replace("&", ""), keys))
    return rows


class ShortcutSheet(QDialog):
    """F1 / ``?``: every shortcut, by menu."""

    def __init__(self, bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(bar)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, min(760, 90 + (self.fontMetrics().height() + 6) * len(rows)))


def about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About SGC Viewer",
                      f"<b>SGC Viewer</b> (sgcformat {sgcformat.__version__})<p>Browse, decode "
                      "and resample semantic generative compression (.sgc) images. "
                      "Press F1 for the keyboard shortcuts; docs/viewer.md has the rest.</p>")
