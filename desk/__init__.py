"""The top floor: pages that compose several apps (overview, inbox, incident page).

It imports the apps below it; nothing imports it (an app's view that needs a whole
page asks for it by name: :mod:`core.pages`).
"""
