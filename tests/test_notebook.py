"""The tour notebook runs from top to bottom and shows tables and plots, so it never rots."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOK = Path(__file__).parent.parent / "docs" / "notebooks" / "tour.ipynb"


def outputs_of(notebook, mime):
    return [
        output["data"][mime]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if mime in output.get("data", {})
    ]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_tour_runs_and_shows_tables_and_plots():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell, on any error
    tables = [page for page in outputs_of(notebook, "text/html") if "<table" in page]
    assert len(tables) >= 12  # the import report, a lead, a merge, a score, the funnels …
    assert any("<caption>Funnel by source</caption>" in page for page in tables)
    assert any("<caption>Time in status</caption>" in page for page in tables)
    assert any("<caption>Score</caption>" in page for page in tables)
    assert any("<caption>Timeline of lead j" in page and "deal_closed" in page for page in tables)
    assert len(outputs_of(notebook, "image/png")) == 2  # the funnel and the cohorts
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error" or output.get("name") == "stderr"
    ]
    assert errors == []
