"""README's picture of report.html: a problem opened in the system's Chromium, the diff of two profiles'
answers and the failing profiles' cards, stacked into one PNG.

    python docs/make_screenshot.py RESULTS_FOLDER TASK [--run 0] [--cards 1,2] [--out docs/report-page.png]

The README's was made from a results folder with the self-test, SmolLM2-135M on CPU and two re-scored
sample sets made to look like two quants (bench/bench_page.py makes such sets), on HumanEval/112.
"""

import argparse
import io
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import chromium_binary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("task")
    parser.add_argument("--run", type=int, default=0, help="the run's index in the page's run list")
    parser.add_argument("--cards", default="1,2", help="the profile cards to show (column indexes)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "report-page.png")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    from PIL import Image
    from playwright.sync_api import sync_playwright

    chromium = chromium_binary()
    url = (args.results / "report.html").resolve().as_uri() + f"#problem={args.run}/{quote(args.task, safe='')}"
    parts = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        page.evaluate("document.querySelector('#problem details').open = false")  # the prompt, folded
        top = page.evaluate("document.querySelector('#problem .card').getBoundingClientRect().top + window.scrollY")
        parts.append(page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": args.width, "height": top}))
        for card in args.cards.split(","):
            parts.append(page.locator(f"#card-{card.strip()}").screenshot())
        browser.close()
    images = [Image.open(io.BytesIO(data)) for data in parts]
    sheet = Image.new("RGB", (args.width, sum(i.height for i in images) + 8 * len(images)), "white")
    y = 0
    for image in images:
        sheet.paste(image, ((args.width - image.width) // 2, y))
        y += image.height + 8
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {sheet.width}x{sheet.height}, {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
