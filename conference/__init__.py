"""conference"""
