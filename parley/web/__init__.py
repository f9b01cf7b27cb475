"""The browser chat client (plain ES modules and CSS, no build step), served by `parley serve` at `/`.

This file only makes `parley.web` a package so its static files ship as package data.
"""
