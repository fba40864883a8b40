<?php
/**
 * Runs the Helpdesk WordPress plugin without WordPress: the few WordPress functions it calls are
 * stubbed here (escaping like WordPress's own), the plugin is loaded, and what it would put on a
 * page is printed as JSON. Input on stdin: {"options": {...}, "user": {...} | null, "email"?, "secret"?}.
 * Output: {"hmac": HMAC of email/secret, "page": the front-end footer, "settings": the settings page}.
 */

define( 'ABSPATH', __DIR__ . '/' );

$GLOBALS['hd_options'] = array();
$GLOBALS['hd_user']    = null;
$GLOBALS['hd_filters'] = array();
$GLOBALS['hd_scripts'] = array();
$GLOBALS['hd_inline']  = array();

function add_action( $hook, $fn, $priority = 10, $args = 1 ) {}
function add_filter( $hook, $fn, $priority = 10, $args = 1 ) { $GLOBALS['hd_filters'][ $hook ][] = $fn; }
function plugin_basename( $file ) { return 'helpdesk-widget/' . basename( $file ); }
function get_option( $name, $default = false ) { return $GLOBALS['hd_options'][ $name ] ?? $default; }
function is_user_logged_in() { return null !== $GLOBALS['hd_user']; }
function wp_get_current_user() { return $GLOBALS['hd_user'] ?? (object) array( 'ID' => 0 ); }
function esc_attr( $text ) { return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' ); }
function esc_html( $text ) { return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' ); }
function esc_url_raw( $url ) { return preg_match( '#^https?://#i', (string) $url ) ? (string) $url : ''; }
function esc_url( $url ) { return esc_attr( esc_url_raw( $url ) ); }
function wp_json_encode( $data, $options = 0 ) { return json_encode( $data, $options ); }
function untrailingslashit( $text ) { return rtrim( (string) $text, '/\\' ); }
function sanitize_text_field( $text ) { return trim( preg_replace( '/\s+/', ' ', strip_tags( (string) $text ) ) ); }
function __( $text, $domain = 'default' ) { return $text; }
function esc_html__( $text, $domain = 'default' ) { return esc_html( $text ); }
function esc_html_e( $text, $domain = 'default' ) { echo esc_html( $text ); }
function current_user_can( $capability ) { return true; }
function get_admin_page_title() { return 'Helpdesk chat'; }
function settings_fields( $group ) { echo '<input type="hidden" name="option_page" value="' . esc_attr( $group ) . '">'; }
function submit_button() { echo '<input type="submit" class="button button-primary" value="Save Changes">'; }
function add_settings_error( $setting, $code, $message ) { $GLOBALS['hd_errors'][] = $message; }
function admin_url( $path ) { return 'https://shop.example/wp-admin/' . $path; }
function wp_enqueue_script( $handle, $src, $deps = array(), $ver = false, $args = array() ) {
	$GLOBALS['hd_scripts'][ $handle ] = array( 'src' => $src, 'args' => $args );
}
function wp_add_inline_script( $handle, $data, $position = 'after' ) {
	$GLOBALS['hd_inline'][ $handle ][ $position ][] = $data;
}

/** What wp_print_footer_scripts would print for the enqueued scripts (WordPress 6.3+ shape). */
function hd_print_scripts() {
	$html = '';
	foreach ( $GLOBALS['hd_scripts'] as $handle => $script ) {
		foreach ( $GLOBALS['hd_inline'][ $handle ]['before'] ?? array() as $inline ) {
			$html .= '<script id="' . esc_attr( $handle ) . "-js-before\">\n" . $inline . "\n</script>\n";
		}
		$async = ( $script['args']['strategy'] ?? '' ) === 'async' ? ' async data-wp-strategy="async"' : '';
		$tag   = '<script src="' . esc_url( $script['src'] ) . '" id="' . esc_attr( $handle ) . '-js"' . $async . "></script>\n";
		foreach ( $GLOBALS['hd_filters']['script_loader_tag'] ?? array() as $filter ) {
			$tag = $filter( $tag, $handle, $script['src'] );
		}
		$html .= $tag;
	}
	return $html;
}

$input = json_decode( stream_get_contents( STDIN ), true );
$GLOBALS['hd_options']['helpdesk_widget_options'] = $input['options'] ?? array();
$GLOBALS['hd_user'] = isset( $input['user'] ) ? (object) $input['user'] : null;

require __DIR__ . '/../../integrations/wordpress/helpdesk-widget/helpdesk-widget.php';

helpdesk_widget_enqueue();
$page = hd_print_scripts();
ob_start();
helpdesk_widget_settings_page();
$settings = ob_get_clean();

echo json_encode( array(
	'hmac'     => helpdesk_widget_identity_hmac( $input['email'] ?? '', $input['secret'] ?? '' ),
	'page'     => $page,
	'settings' => $settings,
	'sanitized' => isset( $input['post'] ) ? helpdesk_widget_sanitize( $input['post'] ) : null,
) );
